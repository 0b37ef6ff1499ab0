"""The Helm chart: lint --strict, what it renders, and the values its schema rejects."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.chart import CHART, REPO_ROOT, helm, of_kind, one, render, set_flags

CRD_FILE = "imagemodelrollouts.imagerollout.dev.yaml"
VALUE_SETS: dict[str, dict[str, str]] = {
    "defaults": {},
    "namespace-scope": {"rbac.scope": '"namespace"', "watchNamespaces": '["models", "staging"]'},
    "cluster-scope-named-namespaces": {"watchNamespaces": '["models"]'},
    "no-discovery": {"rbac.scope": '"namespace"', "rbac.discovery": "false"},
    "service-monitor": {"serviceMonitor.enabled": "true", "serviceMonitor.labels": '{"r": "p"}'},
    "ha": {"replicaCount": "3", "leaderElection.leaseDurationSeconds": "10"},
    "notifications": {"notifications.secretName": '"notifiers"'},
    "reports": {"reports.baseURL": '"https://imagerollout.example"'},
    "scorer-with-hpa": {"scorer.enabled": "true", "scorer.autoscaling.enabled": "true"},
    "pinned-digest-and-claim": {
        "image.digest": '"sha256:' + "a" * 64 + '"',
        "evidence.existingClaim": '"evidence"',
    },
}


def container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    spec = one(manifests, "Deployment")["spec"]["template"]["spec"]
    (operator,) = spec["containers"]
    result: dict[str, Any] = operator
    return result


def args_namespaces(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == "--namespace"]


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint_strict(name: str) -> None:
    result = helm("lint", "--strict", str(CHART), *set_flags(VALUE_SETS[name]))
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


def test_defaults_one_replica_rolling_security_resources_probe() -> None:
    manifests = render()
    deployment = one(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    # The new pod comes up as a standby before the old one stops (the Lease keeps one acting).
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert of_kind(manifests, "PodDisruptionBudget") == []  # it would block drains of one pod
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    operator = container(manifests)
    security = operator["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert set(operator["resources"]) == {"requests", "limits"}
    assert "memory" in operator["resources"]["limits"]
    probe = operator["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    assert set(ports) == {"health", "metrics"}
    assert operator["args"] == [
        "run",
        "--liveness",
        f"http://0.0.0.0:{ports['health']}/healthz",
        "--metrics-address",
        f"0.0.0.0:{ports['metrics']}",
    ]
    mounts = {m["mountPath"] for m in operator["volumeMounts"]}
    assert "/tmp" in mounts  # Tesseract writes scratch files; the root filesystem is read-only
    assert pod["serviceAccountName"] == one(manifests, "ServiceAccount")["metadata"]["name"]
    assert of_kind(manifests, "ServiceMonitor", "Service") == []


def leader_role(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (role,) = [r for r in of_kind(manifests, "Role") if r["metadata"]["name"].endswith("-leader")]
    return role


def not_leader(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in of_kind(manifests, kind) if not m["metadata"]["name"].endswith("-leader")]


def test_cluster_scope_binds_a_cluster_role_to_the_service_account() -> None:
    manifests = render("ir", "ops")
    assert not_leader(manifests, "Role") == not_leader(manifests, "RoleBinding") == []
    bindings = of_kind(manifests, "ClusterRoleBinding")
    assert {b["roleRef"]["name"] for b in bindings} == {
        r["metadata"]["name"] for r in of_kind(manifests, "ClusterRole")
    }
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "ir-imagerollout", "namespace": "ops"}
        ]
    discovery = one(
        [m for m in manifests if m["metadata"]["name"].endswith("-discovery")], "ClusterRole"
    )
    # Watching every namespace, kopf does not list namespaces.
    assert {r["resources"][0] for r in discovery["rules"]} == {"customresourcedefinitions"}


def test_namespace_scope_roles_in_each_watched_namespace_and_matching_args() -> None:
    manifests = render("ir", "ops", VALUE_SETS["namespace-scope"])
    roles = not_leader(manifests, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["models", "staging"]
    assert sorted(b["metadata"]["namespace"] for b in not_leader(manifests, "RoleBinding")) == [
        "models",
        "staging",
    ]
    assert args_namespaces(container(manifests)["args"]) == ["models", "staging"]
    (cluster_role,) = of_kind(manifests, "ClusterRole")
    verbs = {v for rule in cluster_role["rules"] for v in rule["verbs"]}
    assert verbs == {"list", "watch"}, "the only cluster-wide grant is read-only discovery"


def test_namespace_scope_defaults_to_the_release_namespace() -> None:
    manifests = render("ir", "models", {"rbac.scope": '"namespace"'})
    assert [r["metadata"]["namespace"] for r in not_leader(manifests, "Role")] == ["models"]
    assert args_namespaces(container(manifests)["args"]) == ["models"]


def test_no_discovery_renders_nothing_cluster_scoped() -> None:
    manifests = render("ir", "models", VALUE_SETS["no-discovery"])
    assert of_kind(manifests, "ClusterRole", "ClusterRoleBinding") == []
    assert len(not_leader(manifests, "Role")) == 1


def test_service_monitor_renders_when_enabled() -> None:
    manifests = render("ir", "ops", VALUE_SETS["service-monitor"])
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["r"] == "p"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    pod_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_digest_pin_and_evidence_claim() -> None:
    manifests = render("ir", "ops", VALUE_SETS["pinned-digest-and-claim"])
    assert container(manifests)["image"] == "ghcr.io/imagerollout/imagerollout@sha256:" + "a" * 64
    volumes = {
        v["name"]: v for v in one(manifests, "Deployment")["spec"]["template"]["spec"]["volumes"]
    }
    assert volumes["evidence"]["persistentVolumeClaim"] == {"claimName": "evidence"}


def test_quality_gate_settings_reach_the_operator() -> None:
    patterns = ["http://*.models.svc:8080/*", "https://images.example/*"]
    values = {
        "qualityGates.ocrWorkers": "4",
        "qualityGates.endpointAllowlist": json.dumps(patterns),
    }
    env = {e["name"]: e.get("value") for e in container(render("ir", "ops", values))["env"]}
    assert env["IMAGEROLLOUT_OCR_WORKERS"] == "4"
    assert env["IMAGEROLLOUT_ENDPOINT_ALLOWLIST"].split(",") == patterns
    defaults = {e["name"] for e in container(render())["env"]}
    assert "IMAGEROLLOUT_ENDPOINT_ALLOWLIST" not in defaults  # only the in-cluster Services


def test_the_report_base_url_reaches_the_operator_only_when_set() -> None:
    values = {"reports.baseURL": '"https://imagerollout.example/ops"'}
    env = {e["name"]: e.get("value") for e in container(render("ir", "ops", values))["env"]}
    assert env["IMAGEROLLOUT_REPORT_BASE_URL"] == "https://imagerollout.example/ops"
    assert "IMAGEROLLOUT_REPORT_BASE_URL" not in {e["name"] for e in container(render())["env"]}


def test_the_notifiers_secret_reaches_the_operator_with_get_on_that_secret_only() -> None:
    manifests = render("ir", "ops", {"notifications.secretName": '"notifiers"'})
    args = container(manifests)["args"]
    assert args[args.index("--notifiers-secret") + 1] == "ops/notifiers"
    (role,) = [
        r
        for r in of_kind(manifests, "Role")
        if r["metadata"]["name"] == "ir-imagerollout-notifiers"
    ]
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["notifiers"],
            "verbs": ["get"],
        }
    ]
    (binding,) = [
        b
        for b in of_kind(manifests, "RoleBinding")
        if b["roleRef"]["name"] == role["metadata"]["name"]
    ]
    assert binding["subjects"][0]["name"] == one(manifests, "ServiceAccount")["metadata"]["name"]
    defaults = render()
    assert "--notifiers-secret" not in container(defaults)["args"]
    assert not [
        r for r in of_kind(defaults, "Role") if r["metadata"]["name"].endswith("-notifiers")
    ]


def test_every_replica_elects_a_leader_on_a_lease_in_the_release_namespace() -> None:
    manifests = render("ir", "ops", {"leaderElection.leaseDurationSeconds": "8"})
    env = {e["name"]: e for e in container(manifests)["env"]}
    assert env["IMAGEROLLOUT_LEADER_ELECT"]["value"] == "true"
    assert env["IMAGEROLLOUT_LEASE_NAME"]["value"] == "ir-imagerollout"
    assert env["IMAGEROLLOUT_LEASE_SECONDS"]["value"] == "8"
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    role = leader_role(manifests)
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }
    ]
    (binding,) = [
        b for b in of_kind(manifests, "RoleBinding") if b["roleRef"]["name"].endswith("-leader")
    ]
    assert binding["subjects"][0]["name"] == one(manifests, "ServiceAccount")["metadata"]["name"]


@pytest.mark.parametrize("replicas", [2, 10])
def test_two_or_more_replicas_get_a_disruption_budget(replicas: int) -> None:
    manifests = render("ir", "ops", {"replicaCount": str(replicas)})
    assert one(manifests, "Deployment")["spec"]["replicas"] == replicas
    budget = one(manifests, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    pod_labels = one(manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def named(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return found


def test_no_scorer_by_default_scoring_stays_in_process() -> None:
    manifests = render("ir", "ops")
    assert [d["metadata"]["name"] for d in of_kind(manifests, "Deployment")] == ["ir-imagerollout"]
    assert of_kind(manifests, "HorizontalPodAutoscaler") == []
    assert "IMAGEROLLOUT_SCORER_SERVICE" not in {e["name"] for e in container(manifests)["env"]}


def test_the_scorer_runs_apart_and_the_operator_finds_it_by_its_endpoint_slices() -> None:
    manifests = render("ir", "ops", {"scorer.enabled": "true", "scorer.ocrWorkers": "3"})
    scorer = named(manifests, "Deployment", "ir-imagerollout-scorer")
    operator = named(manifests, "Deployment", "ir-imagerollout")
    assert scorer["spec"]["replicas"] == 2
    (box,) = scorer["spec"]["template"]["spec"]["containers"]
    assert box["args"] == ["scorer", "--address", "0.0.0.0:8090", "--ocr-workers", "3"]
    assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    service = named(manifests, "Service", "ir-imagerollout-scorer")
    scorer_pods = scorer["spec"]["template"]["metadata"]["labels"]
    operator_pods = operator["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= scorer_pods.items()
    assert not operator["spec"]["selector"]["matchLabels"].items() <= scorer_pods.items()
    assert not service["spec"]["selector"].items() <= operator_pods.items()
    (box,) = operator["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in box["env"]}
    assert env["IMAGEROLLOUT_SCORER_SERVICE"] == "ops/ir-imagerollout-scorer:http"
    role = named(manifests, "Role", "ir-imagerollout-scorer-endpoints")
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {
            "apiGroups": ["discovery.k8s.io"],
            "resources": ["endpointslices"],
            "verbs": ["list", "watch"],
        }
    ]
    assert of_kind(manifests, "HorizontalPodAutoscaler") == []


def test_the_scorer_autoscales_on_cpu_when_asked() -> None:
    values = {"scorer.enabled": "true", "scorer.autoscaling.enabled": "true"}
    manifests = render("ir", "ops", values)
    hpa = one(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ir-imagerollout-scorer"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert "replicas" not in named(manifests, "Deployment", "ir-imagerollout-scorer")["spec"]


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicaCount": "11"}, "replicaCount"),
        ({"leaderElection.leaseDurationSeconds": "1"}, "leaseDurationSeconds"),
        ({"scorer.replicas": "2"}, "replicas"),  # a typo of replicaCount
        ({"scorer.ocrWorkers": "0"}, "ocrWorkers"),
        ({"rbac.scope": '"everywhere"'}, "scope"),
        ({"serviceMonitor.enable": "true"}, "enable"),  # a typo of `enabled`
        ({"image.pullPolicy": '"Sometimes"'}, "pullPolicy"),
        ({"health.port": '"8080"'}, "port"),
        ({"watchNamespaces": '["Not_A_Namespace"]'}, "watchNamespaces"),
        ({"notifications.secretName": '"Not/A/Secret"'}, "secretName"),
        ({"reports.baseURL": '"imagerollout.example"'}, "baseURL"),  # no scheme
        ({"image.digest": '"latest"'}, "digest"),
        ({"resources.limits.memory": '"lots"'}, "memory"),
        ({"qualityGates.endpointAllowlist": '["a,b"]'}, "endpointAllowlist"),
    ],
)
def test_schema_rejects_bad_values(values: dict[str, str], complaint: str) -> None:
    result = helm("template", "x", str(CHART), *set_flags(values), check=False)
    assert result.returncode != 0, f"accepted {values}"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert complaint in result.stderr


def test_the_crd_is_the_generated_one() -> None:
    link = CHART / "crds" / CRD_FILE
    assert link.is_symlink(), "crds/ in the chart must stay a link to the generated CRD"
    assert link.resolve() == (REPO_ROOT / "crds" / CRD_FILE).resolve()
    rendered = render("x", "y", None, "--include-crds")
    crd = one(rendered, "CustomResourceDefinition")
    assert crd == yaml.safe_load((REPO_ROOT / "crds" / CRD_FILE).read_text())


def test_helm_package_resolves_the_crd_link(tmp_path: Path) -> None:
    helm("package", str(CHART), "--destination", str(tmp_path))
    (archive,) = tmp_path.glob("imagerollout-*.tgz")
    with tarfile.open(archive) as tar:
        member = tar.getmember(f"imagerollout/crds/{CRD_FILE}")
        assert member.isfile()
        data = tar.extractfile(member)
        assert data is not None
        assert yaml.safe_load(data.read())["kind"] == "CustomResourceDefinition"
        schema = tar.extractfile("imagerollout/values.schema.json")
        assert schema is not None
        assert json.load(schema)["additionalProperties"] is False
