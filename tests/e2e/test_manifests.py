"""The kustomize base and the examples apply for real, and the base's RBAC is least privilege.

(tests/e2e/test_rbac.py runs the operator with these rules; this checks what `kubectl apply -k`
installs, through impersonation of the base's ServiceAccount.)
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import REPO_ROOT, Cluster, wait_for

pytestmark = pytest.mark.e2e
SA = "system:serviceaccount:imagerollout-system:imagerollout"
MANIFESTS = REPO_ROOT / "manifests"


def can_i(cluster: Cluster, verb: str, resource: str, *where: str) -> bool:
    """`kubectl auth can-i` as the base's ServiceAccount. "RESOURCE/sub" asks about the
    subresource (kubectl itself would read it as a resource named "sub")."""
    resource, _, subresource = resource.partition("/")
    scope = list(where) or ["-n", "default"]
    if subresource:
        scope.append(f"--subresource={subresource}")
    result = cluster.kubectl("auth", "can-i", verb, resource, *scope, f"--as={SA}", check=False)
    return result.stdout.strip() == "yes"


@pytest.fixture(scope="module")
def base(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(MANIFESTS))


def test_kustomize_base_applies(cluster: Cluster, base: None) -> None:
    deployment = cluster.get_json("-n", "imagerollout-system", "deployment", "imagerollout")
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["replicas"] == 1
    crd = cluster.get_json("crd", "imagemodelrollouts.imagerollout.dev")
    assert crd["metadata"]["labels"]["app.kubernetes.io/part-of"] == "imagerollout"


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        ("patch", "imagemodelrollouts.imagerollout.dev/status"),
        ("watch", "imagemodelrollouts.imagerollout.dev"),
        ("list", "imagemodelrollouts.imagerollout.dev"),
        ("get", "imagemodelrollouts.imagerollout.dev"),
        ("update", "httproutes.gateway.networking.k8s.io"),
        ("update", "virtualservices.networking.istio.io"),
        ("get", "destinationrules.networking.istio.io"),
        ("get", "inferencepools.inference.networking.k8s.io"),
        ("create", "deployments.apps"),
        ("update", "deployments.apps"),
        ("create", "services"),
        # The informers: list + watch of what the reconciler reads (no GETs).
        ("list", "deployments.apps"),
        ("watch", "deployments.apps"),
        ("list", "services"),
        ("watch", "services"),
        ("list", "httproutes.gateway.networking.k8s.io"),
        ("watch", "httproutes.gateway.networking.k8s.io"),
        ("list", "virtualservices.networking.istio.io"),
        ("watch", "virtualservices.networking.istio.io"),
        ("list", "destinationrules.networking.istio.io"),
        ("watch", "destinationrules.networking.istio.io"),
        ("list", "inferencepools.inference.networking.k8s.io"),
        ("watch", "inferencepools.inference.networking.k8s.io"),
        ("create", "events"),
        ("list", "events"),
        ("get", "configmaps"),
    ],
)
def test_base_grants_what_the_operator_calls(
    cluster: Cluster, base: None, verb: str, resource: str
) -> None:
    assert can_i(cluster, verb, resource), f"operator cannot {verb} {resource}"


@pytest.mark.parametrize("verb", ["get", "create", "update"])
def test_base_grants_leader_election_in_its_own_namespace(
    cluster: Cluster, base: None, verb: str
) -> None:
    leases = "leases.coordination.k8s.io"
    assert can_i(cluster, verb, leases, "-n", "imagerollout-system")
    assert not can_i(cluster, verb, leases, "-n", "default")


@pytest.mark.parametrize(
    ("verb", "resource"),
    [
        ("get", "secrets"),
        ("list", "configmaps"),
        # delete deployments and services: a released pin's fallback (docs/capabilities.md).
        ("get", "deployments.apps"),
        ("watch", "configmaps"),
        ("delete", "httproutes.gateway.networking.k8s.io"),
        ("create", "httproutes.gateway.networking.k8s.io"),
        ("delete", "virtualservices.networking.istio.io"),
        ("update", "destinationrules.networking.istio.io"),
        ("update", "inferencepools.inference.networking.k8s.io"),
        ("update", "services"),
        ("create", "pods"),
        ("update", "imagemodelrollouts.imagerollout.dev"),
        ("patch", "imagemodelrollouts.imagerollout.dev"),
        ("update", "imagemodelrollouts.imagerollout.dev/status"),
        ("delete", "imagemodelrollouts.imagerollout.dev"),
        ("get", "leases.coordination.k8s.io"),  # only in its own namespace
    ],
)
def test_base_grants_nothing_else(cluster: Cluster, base: None, verb: str, resource: str) -> None:
    assert not can_i(cluster, verb, resource), f"operator may {verb} {resource}"


def test_base_cluster_scope_is_read_only_discovery(cluster: Cluster, base: None) -> None:
    crds = "customresourcedefinitions.apiextensions.k8s.io"
    assert can_i(cluster, "watch", crds, "--all-namespaces")
    assert not can_i(cluster, "get", "nodes", "--all-namespaces")
    assert not can_i(cluster, "update", crds, "--all-namespaces")
    assert not can_i(cluster, "list", "namespaces", "--all-namespaces")


def test_examples_apply_into_a_namespace(cluster: Cluster, crd: None, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-k", str(MANIFESTS / "examples"))
    rollout = cluster.get_json("-n", namespace, "imr", "imagegen")
    assert rollout["spec"]["analysis"]["suite"]["configMapRef"]["name"] == "imagegen-suite"
    # Defaults from the CRD schema were applied by the API server.
    assert rollout["spec"]["analysis"]["alpha"] == "0.05"
    suite = cluster.get_json("-n", namespace, "configmap", "imagegen-suite")
    assert "imagerollout.dev/suite-v1" in suite["data"]["suite.yaml"]
    wait_for(
        lambda: (
            cluster.get_json("-n", namespace, "deployment", "imagegen")
            .get("status", {})
            .get("readyReplicas")
            == 2
        ),
        60,
        0.3,
        "the example model's pods (kwok) to be ready",
    )
    assert cluster.get_json("-n", namespace, "httproute", "imagegen")["spec"]["rules"]
