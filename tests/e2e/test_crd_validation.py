"""The API server itself rejects bad ImageModelRollouts, with messages a user can act on.

Applies crds/ to the local control plane, then feeds kubectl invalid manifests and asserts
on the text of each rejection (OpenAPI bounds and patterns, CEL rules, strict field
validation), plus one valid manifest, the printer columns and a bad status patch.
"""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import CRD_FILE, Cluster, wait_for

pytestmark = pytest.mark.e2e

CRD_NAME = "imagemodelrollouts.imagerollout.dev"
NAME = "demo"

VALID: dict[str, Any] = yaml.safe_load(
    """\
apiVersion: imagerollout.dev/v1alpha1
kind: ImageModelRollout
metadata: {name: demo}
spec:
  targetRef: {name: imagegen}
  service: {port: 8080}
  trafficRouting: {gatewayAPI: {httpRoute: {name: imagegen}}}
  steps: [{weight: 5, pause: {duration: 30s}}, {weight: 25, pause: {duration: 30s}},
          {weight: 50, pause: {}}, {weight: 100}]
  progressDeadline: 5m
"""
)

# A CEL rule that errors out (instead of evaluating to false) yields these in the message;
# every rule must guard against them so that users only ever see the rule's own message.
UNCLEAR = ("index out of bounds", "type conversion error", "no such key", "no such overload")

DELETE = object()


@dataclass(frozen=True)
class Invalid:
    id: str
    spec: dict[str, Any]  # top-level spec fields to replace (DELETE removes the field)
    expected: tuple[str, ...]  # substrings that must all appear in kubectl's output


def weights(*values: float) -> list[dict[str, Any]]:
    return [{"weight": value} for value in values]


def pause(duration: str) -> list[dict[str, Any]]:
    return [{"weight": 5, "pause": {"duration": duration}}, {"weight": 100}]


GATE: dict[str, Any] = {"name": "errors", "template": "ErrorRate"}


def gate(**fields: Any) -> dict[str, Any]:
    """One metric gate: GATE with fields replaced (DELETE removes one)."""
    merged = {**GATE, **fields}
    return {"gates": [{k: v for k, v in merged.items() if v is not DELETE}]}


def metrics(fields: dict[str, Any]) -> dict[str, Any]:
    """A valid spec.metrics with top-level fields replaced."""
    base = {"provider": {"prometheus": {"address": "http://prometheus:9090"}}, "gates": [GATE]}
    return {**base, **fields}


def manifest(spec_changes: dict[str, Any]) -> str:
    body = copy.deepcopy(VALID)
    for key, value in spec_changes.items():
        if value is DELETE:
            del body["spec"][key]
        else:
            body["spec"][key] = value
    return yaml.safe_dump(body, sort_keys=False)


INVALID = [
    Invalid(
        "weight-0",
        {"steps": weights(0, 100)},
        ("spec.steps[0].weight", "should be greater than or equal to 1"),
    ),
    Invalid(
        "weight-101",
        {"steps": weights(5, 101)},
        ("spec.steps[1].weight", "should be less than or equal to 100"),
    ),
    Invalid(
        "weights-not-increasing",
        {"steps": weights(5, 50, 25, 100)},
        ("spec.steps", "step weights must be strictly increasing"),
    ),
    Invalid(
        "duplicate-weights",
        {"steps": weights(5, 25, 25, 100)},
        ("spec.steps", "step weights must be strictly increasing"),
    ),
    Invalid(
        "last-step-not-100",
        {"steps": weights(5, 25, 50)},
        ("spec.steps", "the last step must set weight 100"),
    ),
    Invalid(
        "empty-steps",
        {"steps": []},
        ("spec.steps", "should have at least 1 items"),
    ),
    Invalid(
        "too-many-steps",
        {"steps": weights(*range(1, 21), 100)},
        ("spec.steps", "must have at most 20 items"),
    ),
    Invalid(
        "missing-steps",
        {"steps": DELETE},
        ("spec.steps: Required value",),
    ),
    Invalid(
        "float-weight",
        {"steps": weights(5.5, 100)},
        ("spec.steps[0].weight", "must be of type integer"),
    ),
    Invalid(
        "no-traffic-provider",
        {"trafficRouting": {}},
        ("spec.trafficRouting", "exactly one traffic provider must be set (supported: gatewayAPI)"),
    ),
    Invalid(
        "unknown-traffic-provider",
        {"trafficRouting": {"istio": {"virtualService": {"name": "imagegen"}}}},
        ("strict decoding error", 'unknown field "spec.trafficRouting.istio"'),
    ),
    Invalid(
        "gateway-api-without-httproute",
        {"trafficRouting": {"gatewayAPI": {}}},
        ("spec.trafficRouting.gatewayAPI.httpRoute: Required value",),
    ),
    Invalid(
        "httproute-name-uppercase",
        {"trafficRouting": {"gatewayAPI": {"httpRoute": {"name": "ImageGen"}}}},
        ("spec.trafficRouting.gatewayAPI.httpRoute.name", '"ImageGen"', "should match"),
    ),
    Invalid(
        "missing-target-ref",
        {"targetRef": DELETE},
        ("spec.targetRef: Required value",),
    ),
    Invalid(
        "missing-target-ref-name",
        {"targetRef": {"kind": "Deployment"}},
        ("spec.targetRef.name: Required value",),
    ),
    Invalid(
        "target-ref-name-uppercase",
        {"targetRef": {"name": "ImageGen"}},
        ("spec.targetRef.name", '"ImageGen"', "should match"),
    ),
    Invalid(
        "target-ref-kind-statefulset",
        {"targetRef": {"name": "imagegen", "kind": "StatefulSet"}},
        ("spec.targetRef.kind", '"StatefulSet"', "should match '^Deployment$'"),
    ),
    Invalid(
        "target-ref-api-version-v1beta1",
        {"targetRef": {"name": "imagegen", "apiVersion": "apps/v1beta1"}},
        ("spec.targetRef.apiVersion", '"apps/v1beta1"', "should match '^apps/v1$'"),
    ),
    Invalid(
        "missing-service",
        {"service": DELETE},
        ("spec.service: Required value",),
    ),
    Invalid(
        "service-port-0",
        {"service": {"port": 0}},
        ("spec.service.port", "should be greater than or equal to 1"),
    ),
    Invalid(
        "service-port-70000",
        {"service": {"port": 70000}},
        ("spec.service.port", "should be less than or equal to 65535"),
    ),
    Invalid(
        "service-target-port-0",
        {"service": {"port": 8080, "targetPort": 0}},
        ("spec.service.targetPort", "should be greater than or equal to 1"),
    ),
    Invalid(
        "pause-48h",
        {"steps": pause("48h")},
        ("spec.steps[0].pause.duration", "must be a duration from 1s to 24h"),
    ),
    Invalid(
        "pause-10d",
        {"steps": pause("10d")},
        ("spec.steps[0].pause.duration", '"10d"', "must be a duration from 1s to 24h"),
    ),
    Invalid(
        "pause-500ms",
        {"steps": pause("500ms")},
        ("spec.steps[0].pause.duration", "must be a duration from 1s to 24h"),
    ),
    Invalid(
        "progress-deadline-1s",
        {"progressDeadline": "1s"},
        ("spec.progressDeadline", "must be a duration from 10s to 24h"),
    ),
    Invalid(
        "progress-deadline-25h",
        {"progressDeadline": "25h"},
        ("spec.progressDeadline", "must be a duration from 10s to 24h"),
    ),
    Invalid(
        "progress-deadline-soon",
        {"progressDeadline": "soon"},
        ("spec.progressDeadline", '"soon"', "must be a duration from 10s to 24h"),
    ),
    *[
        Invalid(f"metrics-{case}", {"metrics": spec}, expected)
        for case, spec, expected in [
            (
                "no-provider",
                metrics({"provider": {}}),
                ("exactly one metric provider must be set",),
            ),
            (
                "bad-address",
                metrics({"provider": {"prometheus": {"address": "prom:9090"}}}),
                ("spec.metrics.provider.prometheus.address",),
            ),
            ("interval-1s", metrics({"interval": "1s"}), ("must be a duration from 2s to 1h",)),
            ("no-gates", metrics({"gates": []}), ("spec.metrics.gates",)),
            (
                "gate-two-sources",
                metrics(gate(query="up")),
                ("set exactly one of template, query",),
            ),
            (
                "gate-no-source",
                metrics(gate(template=DELETE)),
                ("set exactly one of template, query",),
            ),
            (
                "value-gate-no-limit",
                metrics(gate(template="LatencyP95")),
                ("a value gate needs maxDegradation or threshold",),
            ),
            (
                "ratio-on-value-gate",
                metrics(gate(template="LatencyP95", maxRatio="2")),
                ("maxRatio applies to count gates only",),
            ),
            ("ratio-below-1", metrics(gate(maxRatio="0.5")), ("maxRatio must be at least 1",)),
            (
                "degradation-on-count",
                metrics(gate(maxDegradation="0.1")),
                ("count gates use maxRatio",),
            ),
            (
                "errors-without-count",
                metrics(gate(template=DELETE, errorsQuery="x")),
                ("errorsQuery needs countQuery",),
            ),
            (
                "unknown-template",
                metrics(gate(template="P50")),
                ("spec.metrics.gates[0].template",),
            ),
            (
                "empty-threshold",
                metrics(gate(template="LatencyP95", threshold={})),
                ("threshold needs min or max",),
            ),
            ("duplicate-gates", metrics({"gates": [GATE, GATE]}), ("gate names must be unique",)),
            (
                "slow-requests-without-le",
                metrics(gate(template="SlowRequests")),
                ("SlowRequests needs args.le",),
            ),
            (
                "inconclusive-action",
                metrics({"inconclusive": {"action": "Ignore"}}),
                ("spec.metrics.inconclusive.action",),
            ),
        ]
    ],
]


@pytest.fixture(scope="module")
def rollout_crd(cluster: Cluster) -> None:
    """The CRD from crds/ is applied, Established, and the resource is actually served."""
    cluster.kubectl("apply", "--server-side", "-f", str(CRD_FILE))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    # Established can precede the handler serving the new resource by a moment.
    wait_for(
        lambda: (
            cluster.kubectl(
                "-n",
                "default",
                "apply",
                "--dry-run=server",
                "-f",
                "-",
                input=manifest({}),
                check=False,
            ).returncode
            == 0
        ),
        timeout=30,
        description=f"{CRD_NAME} served (server dry-run of a valid rollout)",
    )


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{proc.stdout}{proc.stderr}".strip()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in INVALID])
def test_invalid_rollout_is_rejected(
    cluster: Cluster, rollout_crd: None, namespace: str, case: Invalid
) -> None:
    text = manifest(case.spec)
    proc = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=text, check=False)
    message = output(proc)

    assert proc.returncode != 0, f"accepted, expected a rejection:\n{text}\n{message}"
    missing = [part for part in case.expected if part not in message]
    assert not missing, f"rejection lacks {missing}; the API server said:\n{message}"
    unclear = [part for part in UNCLEAR if part in message]
    assert not unclear, f"a CEL rule errored out ({unclear}):\n{message}"
    gone = cluster.kubectl("-n", namespace, "get", "imr", NAME, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


def test_valid_rollout_is_accepted_and_listed_with_printer_columns(
    cluster: Cluster, rollout_crd: None, namespace: str
) -> None:
    proc = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=manifest({}), check=False)
    assert proc.returncode == 0, output(proc)
    assert f"imagemodelrollout.imagerollout.dev/{NAME} created" in proc.stdout

    stored = cluster.get_json("-n", namespace, "imagemodelrollout", NAME)
    spec = stored["spec"]
    # Defaults come from the schema.
    assert spec["targetRef"] == {"name": "imagegen", "kind": "Deployment", "apiVersion": "apps/v1"}
    assert [s["weight"] for s in spec["steps"]] == [5, 25, 50, 100]
    assert spec["progressDeadline"] == "5m"

    listing = cluster.kubectl("-n", namespace, "get", "imr").stdout
    lines = listing.splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "WEIGHT", "STEP", "CANARY", "AGE"], listing
    assert lines[1].split()[0] == NAME, listing


def test_progress_deadline_defaults_to_10m(
    cluster: Cluster, rollout_crd: None, namespace: str
) -> None:
    cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=manifest({"progressDeadline": DELETE})
    )
    stored = cluster.get_json("-n", namespace, "imr", NAME)
    assert stored["spec"]["progressDeadline"] == "10m"


def test_status_patch_with_non_boolean_abort_is_rejected(
    cluster: Cluster, rollout_crd: None, namespace: str
) -> None:
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input=manifest({}))

    def patch_status(status: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return cluster.kubectl(
            "-n",
            namespace,
            "patch",
            "imr",
            NAME,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
            check=False,
        )

    bad = patch_status({"abort": "yes"})
    message = output(bad)
    assert bad.returncode != 0, f"status.abort='yes' was accepted: {message}"
    assert "status.abort" in message, message
    assert "must be of type boolean" in message, message

    # The same patch with a boolean goes through, so the rejection was about the type.
    good = patch_status({"abort": True})
    assert good.returncode == 0, output(good)
    assert cluster.get_json("-n", namespace, "imr", NAME)["status"]["abort"] is True
