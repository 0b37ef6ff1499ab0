"""The kustomize base applies for real, and its RBAC grants what the operator calls."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import REPO_ROOT, Cluster

pytestmark = pytest.mark.e2e
SA = "system:serviceaccount:imagerollout-system:imagerollout"


def can_i(cluster: Cluster, verb: str, resource: str, namespace: str = "default") -> bool:
    result = cluster.kubectl(
        "auth", "can-i", verb, resource, "-n", namespace, f"--as={SA}", check=False
    )
    return result.stdout.strip() == "yes"


def test_kustomize_base_applies_and_grants_only_what_the_operator_needs(cluster: Cluster) -> None:
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-k", str(REPO_ROOT / "manifests")
    )
    deployment = cluster.get_json("-n", "imagerollout-system", "deployment", "imagerollout")
    assert deployment["spec"]["strategy"]["type"] == "Recreate"

    for verb, resource in [
        ("patch", "imagemodelrollouts.imagerollout.dev/status"),
        ("watch", "imagemodelrollouts.imagerollout.dev"),
        ("update", "httproutes.gateway.networking.k8s.io"),
        ("create", "deployments.apps"),
        ("create", "services"),
        ("create", "events"),
    ]:
        assert can_i(cluster, verb, resource), f"operator cannot {verb} {resource}"
    for verb, resource in [
        ("get", "secrets"),
        ("delete", "deployments.apps"),
        ("delete", "httproutes.gateway.networking.k8s.io"),
        ("create", "pods"),
    ]:
        assert not can_i(cluster, verb, resource), f"operator may {verb} {resource}"
