"""Concurrent edits against the real API server: resourceVersion conflicts are retried."""

from __future__ import annotations

from typing import Any

import pytest

from imagerollout.controller.reconciler import reconcile
from imagerollout.kube.client import ConflictError, Kube
from tests.e2e.helpers import Cluster
from tests.e2e.rollout_env import DEMO, NAME, rollout_manifest, timed_steps

pytestmark = pytest.mark.e2e


@pytest.fixture
def kube(cluster: Cluster) -> Kube:
    from kubernetes import config

    return Kube(config.new_client_from_config(str(cluster.kubeconfig)))  # type: ignore[no-untyped-call]


class UserPatchesFirst(Kube):
    """A user's `kubectl patch --subresource=status` lands just before the operator's write."""

    def __init__(self, inner: Kube, cluster: Cluster, namespace: str, patch: str) -> None:
        super().__init__(inner.api)
        self.cluster, self.namespace, self.patch, self.conflicts = cluster, namespace, patch, 0

    def write_rollout_status(
        self, namespace: str, name: str, resource_version: str, status: dict[str, Any]
    ) -> dict[str, Any]:
        if self.patch:
            self.cluster.kubectl(
                "-n",
                namespace,
                "patch",
                "imr",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                self.patch,
            )
            self.patch = ""
        try:
            return super().write_rollout_status(namespace, name, resource_version, status)
        except ConflictError:
            self.conflicts += 1
            raise


def test_stale_status_write_is_refused(
    cluster: Cluster, crd: None, namespace: str, kube: Kube
) -> None:
    cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=rollout_manifest(timed_steps(50, 100))
    )
    stale = kube.get_rollout(namespace, NAME)
    assert stale is not None
    cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "imr",
        NAME,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"abort":true}}',
    )
    with pytest.raises(ConflictError):
        kube.write_rollout_status(
            namespace, NAME, stale["metadata"]["resourceVersion"], {"abort": False}
        )
    fresh = kube.get_rollout(namespace, NAME)
    assert fresh is not None
    assert fresh["status"]["abort"] is True


def test_a_request_racing_the_operator_is_not_lost(
    cluster: Cluster, crd: None, namespace: str, kube: Kube
) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", str(DEMO / "imagegen.yaml"))
    cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=rollout_manifest(timed_steps(50, 100))
    )
    racing = UserPatchesFirst(kube, cluster, namespace, '{"status":{"promoteFull":true}}')

    decision = reconcile(racing, namespace, NAME)

    assert racing.conflicts == 1
    assert decision is not None
    stored = kube.get_rollout(namespace, NAME)
    assert stored is not None
    assert stored["status"]["promoteFull"] is True  # the user's request survived the race
    assert stored["status"]["phase"] == "Initializing"
