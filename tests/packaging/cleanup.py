"""Deleting a rollout while its operator still runs, so that kopf removes its finalizer."""

from __future__ import annotations

from tests.e2e.helpers import Cluster, wait_for


def delete_rollout(cluster: Cluster, namespace: str, name: str, timeout: float = 120) -> None:
    """Delete and wait until it is gone. If kopf does not release it in time, remove the
    finalizer by hand (so the namespace can be deleted) and raise AssertionError."""
    cluster.kubectl("-n", namespace, "delete", "imr", name, "--ignore-not-found", "--wait=false")

    def gone() -> bool:
        result = cluster.kubectl("-n", namespace, "get", "imr", name, check=False)
        return result.returncode != 0 and "NotFound" in result.stderr

    try:
        wait_for(gone, timeout, 0.3, f"the operator to release the deleted rollout {name}")
    except AssertionError:
        patch = '{"metadata":{"finalizers":null}}'
        cluster.kubectl(
            "-n", namespace, "patch", "imr", name, "--type=merge", "-p", patch, check=False
        )
        raise
