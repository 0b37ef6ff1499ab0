"""The Helm chart against the real API server: lint, template, server-side dry-run, install.

(tests/packaging/test_chart.py checks rendering and the values schema without a cluster.)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.helpers import Cluster
from tests.packaging.chart import CHART, helm, of_kind, set_flags, template_text

pytestmark = pytest.mark.e2e


@pytest.fixture
def release_namespace(cluster: Cluster) -> Iterator[str]:
    name = f"e2e-helm-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def dry_run(cluster: Cluster, manifests_text: str) -> str:
    """`kubectl apply --server-side --dry-run=server`: admission and schema, nothing stored."""
    return cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--force-conflicts",
        "-f",
        "-",
        input=manifests_text,
    ).stdout


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"rbac.scope": '"namespace"'},
        {"rbac.scope": '"namespace"', "rbac.discovery": "false"},
        {"qualityGates.endpointAllowlist": '["http://*.svc:8080/*"]', "replicaCount": "0"},
        {"replicaCount": "3", "leaderElection.leaseDurationSeconds": "10"},
        {"scorer.enabled": "true", "scorer.autoscaling.enabled": "true"},
    ],
    ids=["defaults", "namespace-scope", "namespace-scope-no-discovery", "settings", "ha", "scorer"],
)
def test_lint_template_and_server_side_dry_run(
    cluster: Cluster, crd: None, release_namespace: str, values: dict[str, str]
) -> None:
    lint = helm(
        "lint", "--strict", str(CHART), "--namespace", release_namespace, *set_flags(values)
    )
    assert "0 chart(s) failed" in lint.stdout
    text = template_text("dry", release_namespace, values, "--include-crds")
    kinds = {m["kind"] for m in yaml.safe_load_all(text) if m}
    assert {"CustomResourceDefinition", "ServiceAccount", "Deployment"} <= kinds
    out = dry_run(cluster, text)
    assert "(server dry run)" in out
    # Nothing was stored.
    result = cluster.kubectl(
        "-n", release_namespace, "get", "deployment", "dry-imagerollout", check=False
    )
    assert result.returncode != 0


def test_service_monitor_needs_its_crd_and_the_rest_still_applies(
    cluster: Cluster, crd: None, release_namespace: str
) -> None:
    """The ServiceMonitor renders, and is refused only because this cluster lacks its CRD."""
    values = {"serviceMonitor.enabled": "true"}
    docs = [m for m in yaml.safe_load_all(template_text("sm", release_namespace, values)) if m]
    (monitor,) = of_kind(docs, "ServiceMonitor")
    refused = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        "-",
        input=yaml.safe_dump(monitor),
        check=False,
    )
    assert refused.returncode != 0
    assert 'no matches for kind "ServiceMonitor"' in refused.stderr
    rest = [m for m in docs if m["kind"] != "ServiceMonitor"]
    assert "Service" in {m["kind"] for m in rest}
    assert "(server dry run)" in dry_run(cluster, yaml.safe_dump_all(rest))


def test_helm_install_upgrade_and_uninstall(
    cluster: Cluster, crd: None, release_namespace: str, namespace: str
) -> None:
    release = f"ir-{uuid.uuid4().hex[:6]}"
    common = ["--namespace", release_namespace, "--kubeconfig", str(cluster.kubeconfig)]
    try:
        helm(
            "install",
            release,
            str(CHART),
            *common,
            "--wait",
            "--timeout",
            "90s",
            *set_flags({"rbac.scope": '"namespace"', "watchNamespaces": json.dumps([namespace])}),
        )
        name = f"{release}-imagerollout"
        deployment = cluster.get_json("-n", release_namespace, "deployment", name)
        assert deployment["status"]["readyReplicas"] == 1  # kwok runs the pod
        assert cluster.get_json("-n", namespace, "role", name)["rules"]
        assert cluster.get_json("clusterrole", f"{name}-discovery")["rules"]
        assert cluster.get_json("-n", release_namespace, "role", f"{name}-leader")["rules"]
        # Back to the defaults (cluster scope), with two replicas: the Role gives way to a
        # ClusterRole, the upgrade rolls, and a PodDisruptionBudget keeps one pod up.
        helm(
            "upgrade", release, str(CHART), *common, "--reset-values", "--wait", "--timeout",
            "90s", *set_flags({"replicaCount": "2"}),
        )  # fmt: skip
        assert cluster.get_json("clusterrole", name)["rules"]
        deployment = cluster.get_json("-n", release_namespace, "deployment", name)
        assert deployment["status"]["readyReplicas"] == 2
        budget = cluster.get_json("-n", release_namespace, "poddisruptionbudget", name)
        assert budget["spec"]["minAvailable"] == 1
        gone = cluster.kubectl("-n", namespace, "get", "role", name, check=False)
        assert gone.returncode != 0
        status = json.loads(helm("status", release, *common, "--output", "json").stdout)
        assert status["info"]["status"] == "deployed"
        assert status["version"] == 2
    finally:
        helm("uninstall", release, *common, "--wait", "--timeout", "90s", check=False)
    for kind, obj in [
        ("clusterrole", release + "-imagerollout"),
        ("clusterrolebinding", release + "-imagerollout-discovery"),
    ]:
        assert cluster.kubectl("get", kind, obj, check=False).returncode != 0, f"{kind} {obj} left"
    # Helm never deletes CRDs.
    cluster.get_json("crd", "imagemodelrollouts.imagerollout.dev")
