"""The API server itself rejects bad ImageModelRollouts, with messages a user can act on.

Applies crds/ to the local control plane, then feeds kubectl invalid manifests and asserts
on the text of each rejection (OpenAPI bounds and patterns, CEL rules, strict field
validation), plus valid edge cases, the printer columns and a bad status patch.

Each manifest makes one mistake. The ones in MISTAKES come from issue 13, a new user's
attempt: each was accepted once and failed later. Their rejection must name the field and
show the value the user wrote.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import CRD_FILE, Cluster, wait_for
from tests.e2e.rollout_env import NAME as ROLLOUT
from tests.e2e.rollout_env import RolloutEnv
from tests.e2e.route_watch import RouteWatch

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
    name: str = NAME  # metadata.name
    absent: tuple[str, ...] = ()  # substrings that must not appear


def weights(*values: float) -> list[dict[str, Any]]:
    return [{"weight": value} for value in values]


def pause(duration: str) -> list[dict[str, Any]]:
    return [{"weight": 5, "pause": {"duration": duration}}, {"weight": 100}]


GATE: dict[str, Any] = {"name": "errors", "template": "ErrorRate"}
HOOK: dict[str, Any] = {"name": "ship", "type": "confirm-promotion", "url": "http://gate:8080/"}


def gate(**fields: Any) -> dict[str, Any]:
    """One metric gate: GATE with fields replaced (DELETE removes one)."""
    merged = {**GATE, **fields}
    return {"gates": [{k: v for k, v in merged.items() if v is not DELETE}]}


def metrics(fields: dict[str, Any]) -> dict[str, Any]:
    """A valid spec.metrics with top-level fields replaced."""
    base = {"provider": {"prometheus": {"address": "http://prometheus:9090"}}, "gates": [GATE]}
    return {**base, **fields}


def pools(primary: str, canary: str) -> dict[str, Any]:
    return {"httpRoute": {"name": "llm"}, "primaryPool": primary, "canaryPool": canary}


def istio_rule(**subsets: str) -> dict[str, Any]:
    rule = {"name": "imagegen", **subsets}
    return {"istio": {"virtualService": {"name": "vs"}, "destinationRule": rule}}


def manifest(spec_changes: dict[str, Any], name: str = NAME) -> str:
    body = copy.deepcopy(VALID)
    body["metadata"]["name"] = name
    for key, value in spec_changes.items():
        if value is DELETE:
            del body["spec"][key]
        else:
            body["spec"][key] = value
    return yaml.safe_dump(body, sort_keys=False)


def capability(name: str = "typography", **fields: Any) -> dict[str, Any]:
    """One capability: a header match and two strata, with fields replaced (DELETE removes)."""
    base = {
        "name": name,
        "match": {"headers": [{"name": "x-image-job", "value": name}]},
        "strata": ["typography", "logos"],
    }
    return {k: v for k, v in {**base, **fields}.items() if v is not DELETE}


INVALID = [
    Invalid(
        "capabilities-with-a-replica-split",
        {"capabilities": [capability()], "trafficRouting": {"replicas": {}}},
        (
            "spec.capabilities",
            "spec.capabilities needs trafficRouting.gatewayAPI or trafficRouting.istio, got "
            "trafficRouting.replicas: a replica split sends every request to one Service",
        ),
    ),
    Invalid(
        "capabilities-with-inference-pools",
        {
            "capabilities": [capability()],
            "trafficRouting": {
                "inferencePool": {"httpRoute": {"name": "r"}, "primaryPool": "a", "canaryPool": "b"}
            },
        },
        ("spec.capabilities", "got trafficRouting.inferencePool: a pinned capability would need"),
    ),
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
        ("spec.steps", "step weights must be strictly increasing, got [5, 50, 25, 100]"),
    ),
    Invalid(
        "duplicate-weights",
        {"steps": weights(5, 25, 25, 100)},
        ("spec.steps", "step weights must be strictly increasing, got [5, 25, 25, 100]"),
    ),
    Invalid(
        "last-step-not-100",
        {"steps": weights(5, 25, 50)},
        ("spec.steps", "the last step must set weight 100, got 50"),
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
        (
            "spec.trafficRouting",
            "exactly one traffic provider must be set (supported: gatewayAPI, inferencePool, "
            "istio, replicas), got none",
        ),
    ),
    Invalid(
        "two-traffic-providers",
        {"trafficRouting": {"istio": {"virtualService": {"name": "vs"}}, "replicas": {}}},
        ("spec.trafficRouting", "must be set (supported: ", "got istio, replicas"),
    ),
    Invalid(
        "unknown-traffic-provider-smi",
        {"trafficRouting": {"smi": {"trafficSplit": "imagegen"}}},
        ("strict decoding error", 'unknown field "spec.trafficRouting.smi"'),
    ),
    Invalid(
        "inference-pools-the-same",
        {"trafficRouting": {"inferencePool": pools("llm", "llm")}},
        (
            "spec.trafficRouting.inferencePool.canaryPool",
            'primaryPool and canaryPool must differ, both are "llm"',
        ),
    ),
    Invalid(
        "inference-pool-name-uppercase",
        {"trafficRouting": {"inferencePool": pools("llm", "LLM-v2")}},
        ("spec.trafficRouting.inferencePool.canaryPool", '"LLM-v2"', "should match"),
    ),
    Invalid(
        "istio-without-virtual-service",
        {"trafficRouting": {"istio": {}}},
        ("spec.trafficRouting.istio.virtualService: Required value",),
    ),
    Invalid(
        "istio-subsets-the-same",
        {"trafficRouting": istio_rule(primarySubset="v1", canarySubset="v1")},
        (
            "spec.trafficRouting.istio.destinationRule.canarySubset",
            'primarySubset and canarySubset must differ, both are "v1"',
        ),
    ),
    Invalid(
        "replicas-with-stage0",
        {"trafficRouting": {"replicas": {}}, "analysis": {}},
        ("spec.analysis.stage0.samples", "set analysis.stage0.samples to 0, got 40"),
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
        ("spec.steps[0].pause.duration", 'must be a duration from 1s to 24h, got "48h"'),
    ),
    Invalid(
        "pause-10d",
        {"steps": pause("10d")},
        ("spec.steps[0].pause.duration", '"10d"', "must be a duration from 1s to 24h"),
    ),
    Invalid(
        "pause-500ms",
        {"steps": pause("500ms")},
        ("spec.steps[0].pause.duration", 'must be a duration from 1s to 24h, got "500ms"'),
    ),
    Invalid(
        "progress-deadline-1s",
        {"progressDeadline": "1s"},
        ("spec.progressDeadline", 'must be a duration from 10s to 24h, got "1s"'),
    ),
    Invalid(
        "progress-deadline-25h",
        {"progressDeadline": "25h"},
        ("spec.progressDeadline", 'must be a duration from 10s to 24h, got "25h"'),
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
                ("spec.metrics.provider.prometheus.address", '"prom:9090"'),
            ),
            (
                "interval-1s",
                metrics({"interval": "1s"}),
                ('must be a duration from 2s to 1h, got "1s"',),
            ),
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
            (
                "ratio-below-1",
                metrics(gate(maxRatio="0.5")),
                ("spec.metrics.gates[0].maxRatio", 'maxRatio must be at least 1, got "0.5"'),
            ),
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
            (
                "duplicate-gates",
                metrics({"gates": [GATE, GATE]}),
                ('gate names must be unique: ["errors", "errors"]',),
            ),
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
    # spec.notifications and spec.webhooks (docs/notifications.md).
    Invalid(
        "notification-provider-twice",
        {"notifications": [{"provider": "oncall"}, {"provider": "oncall"}]},
        ('notification providers must be unique: ["oncall", "oncall"]',),
    ),
    Invalid(
        "notification-trigger-unknown",
        {"notifications": [{"provider": "oncall", "triggers": ["RolledBack", "Failed"]}]},
        ('spec.notifications[0].triggers[1]: Unsupported value: "Failed"',),
    ),
    Invalid(
        "notification-trigger-twice",
        {"notifications": [{"provider": "oncall", "triggers": ["Paused", "Paused"]}]},
        ('spec.notifications[0].triggers[1]: Duplicate value: "Paused"',),
    ),
    Invalid(
        "webhook-names-twice",
        {"webhooks": [HOOK, HOOK]},
        ('webhook names must be unique: ["ship", "ship"]',),
    ),
    Invalid(
        "webhook-type-unknown",
        {"webhooks": [{**HOOK, "type": "post-rollout"}]},
        ('spec.webhooks[0].type: Unsupported value: "post-rollout"',),
    ),
    Invalid(
        "webhook-timeout-too-long",
        {"webhooks": [{**HOOK, "timeout": "5m"}]},
        ('must be a duration from 1s to 1m, got "5m"',),
    ),
    Invalid(
        "webhook-url-without-host",
        {"webhooks": [{**HOOK, "url": "http://:8080/confirm"}]},
        ('url "http://:8080/confirm" must be an http(s) URL with a host',),
    ),
]


# --- One-mistake manifests from issue 13 ---------------------------------------------------

QUALITY_GATE: dict[str, Any] = {"name": "text", "metric": "OCRAccuracy", "maxDegradation": "5"}


def analysis(**fields: Any) -> dict[str, Any]:
    """spec.analysis: the defaults with fields replaced."""
    return {"analysis": fields}


def quality_gate(**fields: Any) -> dict[str, Any]:
    """spec.analysis with one quality gate: QUALITY_GATE with fields replaced."""
    return analysis(gates=[{**QUALITY_GATE, **fields}])


def degradation(metric: str, value: str, bound: str) -> Invalid:
    return Invalid(
        f"{metric.lower()}-max-degradation-{value}",
        quality_gate(metric=metric, maxDegradation=value),
        (
            "spec.analysis.gates[0].maxDegradation",
            f'maxDegradation "{value}" is more than {metric} allows',
            f"at most {bound}",
        ),
    )


def endpoints(baseline: str | None = None, canary: str | None = None) -> dict[str, Any]:
    arms = {"baseline": baseline, "canary": canary}
    return analysis(endpoints={arm: {"url": url} for arm, url in arms.items() if url})


def address(value: str) -> dict[str, Any]:
    return {"metrics": metrics({"provider": {"prometheus": {"address": value}}})}


def metric_gate(**fields: Any) -> dict[str, Any]:
    return {"metrics": metrics(gate(**fields))}


def custom_gate(**fields: Any) -> dict[str, Any]:
    """A value gate on the user's own query: a good one, with fields replaced."""
    merged = {
        "template": DELETE,
        "query": 'sum(rate(bad_total{namespace="{{namespace}}"}[{{window}}]))',
        "threshold": {"max": "0.5"},
        **fields,
    }
    return metric_gate(**merged)


def count_gate(**fields: Any) -> dict[str, Any]:
    """A count gate on the user's own queries, with fields replaced."""
    merged = {
        "template": DELETE,
        "errorsQuery": 'sum(increase(bad_total{service="{{service}}"}[{{window}}]))',
        "countQuery": 'sum(increase(requests_total{service="{{service}}"}[{{window}}]))',
        **fields,
    }
    return metric_gate(**merged)


def slow(le: str) -> dict[str, Any]:
    return metric_gate(name="slow", template="SlowRequests", args={"le": le})


BAD_ADDRESS = "must be the base URL of Prometheus"
UNKNOWN = "uses unknown variables"
LONG_NAME = "imagegen-" + "x" * 51  # 60 characters
NAME_RULE = "must start with a letter and hold only lowercase letters, digits"

MISTAKES = [
    # Names the operator cannot use: <name>-primary and <name>-canary must be DNS-1035 labels.
    Invalid(
        "name-60-characters",
        {},
        ("metadata.name", f'"{LONG_NAME}" is 60 characters; at most 55 fit'),
        name=LONG_NAME,
    ),
    Invalid(
        "name-56-characters",
        {},
        ("metadata.name", "is 56 characters; at most 55 fit", f'"{"a" * 56}-primary"'),
        name="a" * 56,
    ),
    Invalid(
        "name-starts-with-a-digit",
        {},
        ("metadata.name", '"2imagegen"', NAME_RULE, '"2imagegen-primary"'),
        name="2imagegen",
    ),
    Invalid(
        "name-all-digits",
        {},
        ("metadata.name", '"2024"', NAME_RULE),
        name="2024",
    ),
    Invalid(
        "name-with-a-dot",
        {},
        ("metadata.name", '"imagegen.v2"', "(no dots)", '"imagegen.v2-canary"'),
        name="imagegen.v2",
    ),
    Invalid(
        "name-with-dots-in-the-middle",
        {},
        ("metadata.name", '"models.imagegen"', "(no dots)"),
        name="models.imagegen",
    ),
    # Impossible per-metric values: the gate could never fail.
    degradation("OCRAccuracy", "150", "100 percentage points"),
    degradation("OCRAccuracy", "100.5", "100 percentage points"),
    degradation("Errors", "101", "100 percentage points"),
    degradation("SSIM", "1.5", "1"),
    degradation("OCREditDistance", "2", "1"),
    degradation("PHash", "65", "64 bits"),
    degradation("Exposure", "1.2", "1"),
    degradation("Sharpness", "6", "5"),
    degradation("Noise", "300", "255 grey levels"),
    degradation("Colorfulness", "600", "500"),
    degradation("Latency", "900", "600 seconds"),
    degradation("LatencyRatio", "1000.5", "1000 percent"),
    Invalid(
        "max-degradation-with-a-unit",
        quality_gate(maxDegradation="5%"),
        ("spec.analysis.gates[0].maxDegradation", '"5%"', "should match"),
    ),
    Invalid(
        "max-degradation-negative",
        quality_gate(maxDegradation="-1"),
        ("spec.analysis.gates[0].maxDegradation", '"-1"', "should match"),
    ),
    Invalid(
        "quality-gate-unknown-metric",
        quality_gate(metric="FID"),
        ("spec.analysis.gates[0].metric", '"FID"', "supported values"),
    ),
    Invalid(
        "quality-gate-names-twice",
        analysis(gates=[QUALITY_GATE, {**QUALITY_GATE, "maxDegradation": "3"}]),
        ('gate names must be unique: ["text", "text"]',),
    ),
    # Contradictions between fields.
    Invalid(
        "threshold-min-above-max",
        custom_gate(threshold={"min": "5", "max": "4"}),
        ("spec.metrics.gates[0].threshold.min", 'threshold min "5" is greater than max "4"'),
    ),
    Invalid(
        "threshold-min-above-max-on-a-template",
        metric_gate(name="p99", template="LatencyP99", threshold={"min": "0.9", "max": "0.25"}),
        ('threshold min "0.9" is greater than max "0.25"',),
    ),
    Invalid(
        "canary-url-is-the-baseline-url",
        endpoints("http://imagegen:8080", "http://imagegen:8080"),
        (
            "spec.analysis.endpoints.canary.url",
            'canary url "http://imagegen:8080" is the baseline url',
        ),
    ),
    Invalid(
        "canary-url-is-the-baseline-url-but-for-a-slash-and-case",
        endpoints("http://imagegen-primary:8080", "http://ImageGen-Primary:8080/"),
        ('canary url "http://ImageGen-Primary:8080/" is the baseline url',),
    ),
    Invalid(
        "min-samples-above-max-samples",
        analysis(minSamples=500, maxSamples=100),
        ("spec.analysis.minSamples", "got minSamples 500 and maxSamples 100"),
    ),
    # Alpha of 0, and above the bound, in both places.
    Invalid(
        "analysis-alpha-0",
        analysis(alpha="0"),
        ("spec.analysis.alpha", 'must be greater than 0 and at most 0.5, got "0"'),
    ),
    Invalid(
        "analysis-alpha-0.0",
        analysis(alpha="0.0"),
        ("spec.analysis.alpha", 'got "0.0"'),
    ),
    Invalid(
        "analysis-alpha-0.6",
        analysis(alpha="0.6"),
        ("spec.analysis.alpha", 'got "0.6"'),
    ),
    Invalid(
        "analysis-alpha-percent",
        analysis(alpha="5%"),
        ("spec.analysis.alpha", '"5%"', "should match"),
    ),
    Invalid(
        "metrics-alpha-0.0",
        {"metrics": metrics({"alpha": "0.0"})},
        ("spec.metrics.alpha", 'must be greater than 0 and at most 0.5, got "0.0"'),
    ),
    Invalid(
        "metrics-alpha-0",
        {"metrics": metrics({"alpha": "0"})},
        ("spec.metrics.alpha", 'got "0"'),
    ),
    Invalid(
        "metrics-alpha-1",
        {"metrics": metrics({"alpha": "1"})},
        ("spec.metrics.alpha", 'got "1"'),
    ),
    # Empty strings where a value is needed.
    Invalid(
        "suite-config-map-key-empty",
        analysis(suite={"configMapRef": {"name": "suite", "key": ""}}),
        ("spec.analysis.suite.configMapRef.key", 'Invalid value: ""'),
    ),
    Invalid(
        "suite-config-map-key-with-a-slash",
        analysis(suite={"configMapRef": {"name": "suite", "key": "suites/text.yaml"}}),
        ("spec.analysis.suite.configMapRef.key", '"suites/text.yaml"'),
    ),
    Invalid(
        "evidence-path-empty",
        analysis(evidence={"path": ""}),
        ("spec.analysis.evidence.path", 'evidence.path "" must be an absolute path'),
    ),
    Invalid(
        "evidence-path-relative",
        analysis(evidence={"path": "evidence"}),
        ('evidence.path "evidence" must be an absolute path',),
    ),
    Invalid(
        "strata-empty-entry",
        quality_gate(strata=["logos", ""]),
        ("spec.analysis.gates[0].strata[1]", 'Invalid value: ""'),
    ),
    Invalid(
        "query-empty",
        custom_gate(query=""),
        ("spec.metrics.gates[0].query", 'Invalid value: ""', 'query must not be empty, got ""'),
    ),
    Invalid(
        "query-blank",
        custom_gate(query="   "),
        ('query must not be empty, got "   "',),
    ),
    Invalid(
        "errors-query-empty",
        count_gate(errorsQuery=""),
        ("spec.metrics.gates[0].errorsQuery", 'errorsQuery must not be empty, got ""'),
    ),
    Invalid(
        "count-query-empty",
        count_gate(countQuery=""),
        ("spec.metrics.gates[0].countQuery", 'countQuery must not be empty, got ""'),
    ),
    Invalid(
        "canary-url-without-host",
        endpoints(canary="http://:8080"),
        ("spec.analysis.endpoints.canary.url", 'url "http://:8080" must be an http(s) URL'),
    ),
    Invalid(
        "baseline-url-without-host",
        endpoints(baseline="https://:443/v1"),
        ("spec.analysis.endpoints.baseline.url", 'url "https://:443/v1"'),
    ),
    Invalid(
        "canary-url-ftp",
        endpoints(canary="ftp://imagegen:21"),
        ("spec.analysis.endpoints.canary.url", '"ftp://imagegen:21"', "should match"),
    ),
    Invalid(
        "prometheus-address-without-host",
        address("http://:9090"),
        ("spec.metrics.provider.prometheus.address", 'address "http://:9090" must be an http(s)'),
    ),
    # PromQL gates that can never see data.
    Invalid(
        "query-variable-typo",
        custom_gate(query='sum(rate(bad_total{namespace="{{namesapce}}"}[{{window}}]))'),
        ("spec.metrics.gates[0].query", UNKNOWN, '["{{namesapce}}"]'),
    ),
    Invalid(
        "query-variable-with-spaces-typo",
        custom_gate(query='bad_total{service="{{ servce }}"}'),
        (UNKNOWN, '["{{ servce }}"]'),
    ),
    Invalid(
        "query-two-unknown-variables",
        custom_gate(query='x{a="{{app}}", b="{{ns}}"}'),
        (UNKNOWN, '["{{app}}", "{{ns}}"]', "known: {{namespace}}, {{service}}"),
    ),
    Invalid(
        "query-arg-not-defined",
        custom_gate(query='x{reason="{{reason}}"}', args={"reasons": "oom"}),
        (UNKNOWN, '["{{reason}}"]'),
    ),
    Invalid(
        "errors-query-variable-typo",
        count_gate(errorsQuery="sum(increase(bad_total[{{windw}}]))"),
        ("spec.metrics.gates[0].errorsQuery", UNKNOWN, '["{{windw}}"]'),
    ),
    Invalid(
        "count-query-variable-typo",
        count_gate(countQuery='requests_total{rollout="{{rollout_name}}"}'),
        ("spec.metrics.gates[0].countQuery", UNKNOWN, '["{{rollout_name}}"]'),
    ),
    Invalid(
        "args-redefine-namespace",
        custom_gate(args={"namespace": "prod"}),
        ("spec.metrics.gates[0].args", 'args may not redefine ["namespace"]'),
    ),
    Invalid(
        "slow-requests-le-with-a-unit",
        slow("2.5s"),
        ("spec.metrics.gates[0].args", 'SlowRequests args.le "2.5s" must be a plain number'),
    ),
    Invalid(
        "slow-requests-le-in-milliseconds",
        slow("250ms"),
        ('args.le "250ms" must be a plain number',),
    ),
    Invalid(
        "slow-requests-le-inf",
        slow("+Inf"),
        ('args.le "+Inf" must be a plain number',),
    ),
    Invalid(
        "slow-requests-le-empty",
        slow(""),
        ('args.le "" must be a plain number',),
    ),
    Invalid(
        "prometheus-address-ends-in-api-v1-query",
        address("http://prometheus.monitoring:9090/api/v1/query"),
        (
            "spec.metrics.provider.prometheus.address",
            '"http://prometheus.monitoring:9090/api/v1/query"',
            BAD_ADDRESS,
        ),
    ),
    Invalid(
        "prometheus-address-ends-in-api-v1",
        address("https://prometheus:9090/api/v1/"),
        ('"https://prometheus:9090/api/v1/"', BAD_ADDRESS),
    ),
    Invalid(
        "prometheus-address-query-range",
        address("http://mimir/prometheus/api/v1/query_range"),
        ('"http://mimir/prometheus/api/v1/query_range"', BAD_ADDRESS),
    ),
    Invalid(
        "prometheus-address-is-the-graph-page",
        address("http://prometheus:9090/graph"),
        ('"http://prometheus:9090/graph"', BAD_ADDRESS),
    ),
    Invalid(
        "prometheus-address-with-a-query-string",
        address("http://prometheus:9090/?g0.expr=up"),
        ('"http://prometheus:9090/?g0.expr=up"', BAD_ADDRESS),
    ),
    Invalid(
        "prometheus-address-with-credentials",
        address("http://admin:secret@prometheus:9090"),
        ('"http://***@prometheus:9090" must not carry credentials',),
        absent=("secret",),
    ),
    # Values shown for the older rules too.
    Invalid(
        "metrics-interval-90m",
        {"metrics": metrics({"interval": "90m"})},
        ("spec.metrics.interval", 'must be a duration from 2s to 1h, got "90m"'),
    ),
    Invalid(
        "metrics-stale-after-0s",
        {"metrics": metrics({"staleAfter": "0s"})},
        ("spec.metrics.staleAfter", 'got "0s"'),
    ),
    Invalid(
        "prometheus-timeout-2m",
        {
            "metrics": metrics(
                {"provider": {"prometheus": {"address": "http://p:9090", "timeout": "2m"}}}
            )
        },
        ("spec.metrics.provider.prometheus.timeout", 'must be a duration from 1s to 60s, got "2m"'),
    ),
    Invalid(
        "metric-gate-max-ratio-0.9",
        metric_gate(maxRatio="0.9"),
        ('maxRatio must be at least 1, got "0.9"',),
    ),
    Invalid(
        "metric-gate-max-degradation-not-a-number",
        metric_gate(name="p95", template="LatencyP95", maxDegradation="250ms"),
        ("spec.metrics.gates[0].maxDegradation", '"250ms"', "should match"),
    ),
    Invalid(
        "gpu-second-price-above-1000",
        analysis(gpuSecondPrice="1500"),
        ("spec.analysis.gpuSecondPrice", 'must be at most 1000, got "1500"'),
    ),
    Invalid(
        "steps-decreasing",
        {"steps": weights(50, 25, 100)},
        ("step weights must be strictly increasing, got [50, 25, 100]",),
    ),
    Invalid(
        "last-step-60",
        {"steps": weights(10, 60)},
        ("the last step must set weight 100, got 60",),
    ),
    Invalid(
        "image-size-without-height",
        analysis(size="512"),
        ("spec.analysis.size", '"512"', "should match"),
    ),
    # spec.capabilities (docs/capabilities.md): each rejection names the capability or value.
    Invalid(
        "capability-names-twice",
        {"capabilities": [capability("typography"), capability("typography", strata=["logos"])]},
        ("spec.capabilities", 'capability names must be unique: ["typography", "typography"]'),
    ),
    Invalid(
        "capability-stratum-in-two",
        {"capabilities": [capability("typography"), capability("logos", strata=["logos"])]},
        ("spec.capabilities", 'got strata [["typography", "logos"], ["logos"]]'),
    ),
    Invalid(
        "capability-service-target-without-service",
        {"capabilities": [capability(target="service")]},
        ("spec.capabilities[0].service", 'capability "typography": target "service" needs service'),
    ),
    Invalid(
        "capability-service-without-service-target",
        {"capabilities": [capability(service="typo-specialist")]},
        ('target "canary-rollout" takes no service',),
    ),
    Invalid(
        "capability-without-strata",
        {"capabilities": [capability(strata=DELETE)]},
        ("spec.capabilities[0].strata", 'capability "typography" (target canary-rollout) needs'),
    ),
    Invalid(
        "capability-header-with-a-space",
        {"capabilities": [capability(match={"headers": [{"name": "x image", "value": "t"}]})]},
        ("spec.capabilities[0].match.headers[0].name", 'Invalid value: "x image"'),
    ),
    Invalid(
        "capability-failure-policy-unknown",
        {"capabilities": [capability()], "onCapabilityFailure": "Pinned"},
        ('spec.onCapabilityFailure: Unsupported value: "Pinned"',),
    ),
    Invalid(
        "capability-fallback-endpoint-not-a-url",
        {"capabilities": [capability(fallbackEndpoint={"url": "http://"})]},
        ("spec.capabilities[0].fallbackEndpoint.url", '"http://"'),
    ),
    Invalid(
        "capability-fallback-name-too-long",
        {"capabilities": [capability()]},
        ('metadata.name "' + "c" * 44 + '" (44 characters) and a capability name',),
        name="c" * 44,
    ),
]

VALID_EDGES = {
    "capability-with-a-fallback-endpoint": (
        {"capabilities": [capability(fallbackEndpoint={"url": "http://imagegen-v1:8080"})]},
        NAME,
    ),
    "capabilities-on-istio": (
        {
            "capabilities": [capability()],
            "trafficRouting": {"istio": {"virtualService": {"name": "vs"}}},
        },
        NAME,
    ),
    "capabilities-pin-stable-and-specialist": (
        {
            "capabilities": [
                capability(),
                capability("drafts", strata=["plain"], target="stable"),
                capability("posters", strata=DELETE, target="service", service="poster-model"),
            ],
            "onCapabilityFailure": "Pin",
        },
        "c" * 43,
    ),
    "name-55-characters": ({}, "a" * 55),
    "name-one-letter": ({}, "a"),
    "name-with-digits-and-dashes": ({}, "imagegen-v2-2025"),
    "analysis-alpha-0.5": (analysis(alpha="0.5"), NAME),
    "analysis-alpha-tiny": (analysis(alpha="0.000000001"), NAME),
    "metrics-alpha-0.5": ({"metrics": metrics({"alpha": "0.5"})}, NAME),
    "analysis-empty-default-gates": ({"analysis": {}}, NAME),
    "analysis-gates-empty-list": (analysis(gates=[]), NAME),
    "ocr-accuracy-100-points": (quality_gate(maxDegradation="100"), NAME),
    "phash-64-bits": (quality_gate(metric="PHash", maxDegradation="64"), NAME),
    "ssim-1": (quality_gate(metric="SSIM", maxDegradation="1"), NAME),
    "latency-ratio-1000-percent": (
        quality_gate(metric="LatencyRatio", maxDegradation="1000"),
        NAME,
    ),
    "threshold-min-equals-max": (custom_gate(threshold={"min": "1", "max": "1"}), NAME),
    "query-with-an-arg-and-spaces": (
        custom_gate(query='x{a="{{ reason }}",b="{{namespace}}"}', args={"reason": "oom"}),
        NAME,
    ),
    "count-gate-with-all-variables": (
        count_gate(
            errorsQuery='x{n="{{namespace}}",s="{{service}}",v="{{variant}}",r="{{rollout}}"}'
        ),
        NAME,
    ),
    "slow-requests-le-2.5": (slow("2.5"), NAME),
    "slow-requests-le-integer": (slow("1"), NAME),
    "prometheus-address-with-a-path-prefix": (address("http://mimir.monitoring/prometheus"), NAME),
    "prometheus-address-with-a-trailing-slash": (address("https://prometheus:9090/"), NAME),
    "distinct-endpoints": (
        endpoints("http://imagegen-primary:8080", "http://imagegen-canary:8080"),
        NAME,
    ),
    "evidence-absolute-path": (analysis(evidence={"path": "/data/evidence"}), NAME),
    "notifications-and-every-webhook-type": (
        {
            "notifications": [
                {"provider": "oncall", "triggers": ["RolledBack"]},
                {"provider": "a"},
            ],
            "webhooks": [
                {**HOOK, "name": kind, "type": kind, "timeout": "1m", "metadata": {"k": "v"}}
                for kind in ("confirm-rollout", "pre-rollout", "confirm-promotion", "rollback")
            ],
        },
        NAME,
    ),
    "inference-pools": ({"trafficRouting": {"inferencePool": pools("llm-v1", "llm-v2")}}, NAME),
    "istio-routes-and-subsets": (
        {"trafficRouting": {"istio": {"virtualService": {"name": "vs", "routes": ["a", "b"]}}}},
        NAME,
    ),
    "istio-destination-rule-default-subsets": ({"trafficRouting": istio_rule()}, NAME),
    "replicas-empty": ({"trafficRouting": {"replicas": {}}}, NAME),
    "replicas-with-stage0-off": (
        {
            "trafficRouting": {"replicas": {"service": {"name": "imagegen"}}},
            **analysis(stage0={"samples": 0}),
        },
        NAME,
    ),
}


def dry_run(cluster: Cluster, namespace: str, text: str) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl(
        "-n", namespace, "apply", "--dry-run=server", "-f", "-", input=text, check=False
    )


@pytest.fixture(scope="module")
def rollout_crd(cluster: Cluster) -> None:
    """The CRD from crds/ is applied, Established, and its current rules are served."""
    cluster.kubectl("apply", "--server-side", "-f", str(CRD_FILE))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    # Established can precede the handler serving the new resource (or the new schema of an
    # updated CRD) by a moment: wait until a valid rollout passes and the newest rules bite.
    newest = [MISTAKES[0], MISTAKES[-1]]
    wait_for(
        lambda: (
            dry_run(cluster, "default", manifest({})).returncode == 0
            and all(
                dry_run(cluster, "default", manifest(c.spec, c.name)).returncode != 0
                for c in newest
            )
        ),
        timeout=30,
        description=f"{CRD_NAME} served with its current rules (server dry-runs)",
    )


@pytest.fixture(scope="module")
def shared_namespace(cluster: Cluster) -> Iterator[str]:
    """One namespace for the rejections: a rejected rollout is never stored."""
    name = f"e2e-crd-{uuid.uuid4().hex[:10]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{proc.stdout}{proc.stderr}".strip()


def assert_rejected(cluster: Cluster, namespace: str, case: Invalid) -> str:
    text = manifest(case.spec, case.name)
    proc = cluster.kubectl("-n", namespace, "apply", "-f", "-", input=text, check=False)
    message = output(proc)

    assert proc.returncode != 0, f"accepted, expected a rejection:\n{text}\n{message}"
    missing = [part for part in case.expected if part not in message]
    assert not missing, f"rejection lacks {missing}; the API server said:\n{message}"
    shown = [part for part in case.absent if part in message]
    assert not shown, f"the rejection shows {shown}:\n{message}"
    unclear = [part for part in UNCLEAR if part in message]
    assert not unclear, f"a CEL rule errored out ({unclear}):\n{message}"
    gone = cluster.kubectl("-n", namespace, "get", "imr", case.name, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr
    return message


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in INVALID])
def test_invalid_rollout_is_rejected(
    cluster: Cluster, rollout_crd: None, shared_namespace: str, case: Invalid
) -> None:
    assert_rejected(cluster, shared_namespace, case)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in MISTAKES])
def test_one_mistake_is_rejected_with_its_value(
    cluster: Cluster, rollout_crd: None, shared_namespace: str, case: Invalid
) -> None:
    """Each message names the field (its path, or the field in the text) and the value."""
    # What is asserted shows the value (quoted, or a list of weights), not only a type.
    assert any('"' in part or "got" in part for part in case.expected), case.expected
    assert_rejected(cluster, shared_namespace, case)


def test_the_mistakes_are_many_and_distinct() -> None:
    ids = [c.id for c in MISTAKES]
    assert len(ids) == len(set(ids)) >= 60
    texts = [manifest(c.spec, c.name) for c in MISTAKES]
    assert len(set(texts)) == len(texts), "every mistake is a different manifest"


@pytest.mark.parametrize(("spec", "name"), VALID_EDGES.values(), ids=list(VALID_EDGES))
def test_valid_edge_case_is_accepted(
    cluster: Cluster, rollout_crd: None, shared_namespace: str, spec: dict[str, Any], name: str
) -> None:
    proc = dry_run(cluster, shared_namespace, manifest(spec, name))
    assert proc.returncode == 0, f"{manifest(spec, name)}\n{output(proc)}"


def test_a_55_character_name_is_stored(cluster: Cluster, rollout_crd: None, namespace: str) -> None:
    name = "a" * 55
    proc = cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=manifest({}, name), check=False
    )
    assert proc.returncode == 0, output(proc)
    assert cluster.get_json("-n", namespace, "imr", name)["metadata"]["name"] == name


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


def test_a_query_cel_cannot_parse_is_invalid_spec_before_any_traffic_moves(
    env: RolloutEnv,
) -> None:
    """CEL has no PromQL parser: the operator's first pass sets InvalidSpec, posts a Warning,
    and a new revision is not rolled out until the query is fixed."""
    broken = custom_gate(query="sum(rate(bad_total[{{window}}])")["metrics"]
    broken["provider"]["prometheus"]["address"] = "http://127.0.0.1:9"  # never queried
    env.deploy_judged(metrics=broken)
    problem = "spec.metrics.gates[0] (errors): query 'sum(rate(bad_total[{{window}}])'"

    def invalid() -> dict[str, Any] | None:
        conditions = {c["type"]: c for c in env.status().get("conditions", [])}
        found = conditions.get("InvalidSpec")
        return found if found and found["status"] == "True" else None

    condition = wait_for(invalid, 30, 0.2, "InvalidSpec=True")
    assert condition["reason"] == "InvalidSpec"
    assert condition["message"].startswith(problem)
    assert "'(' at column 4 is never closed" in condition["message"]
    warnings = [e for e in env.events() if e["reason"] == "InvalidSpec"]
    assert [e["type"] for e in warnings] == ["Warning"]
    assert warnings[0]["message"] == condition["message"]

    watch = RouteWatch(env.cluster.kubeconfig, env.namespace, ROLLOUT)
    try:
        env.set_model("v2")
        status = env.wait_phase("Degraded", timeout=30)
        time.sleep(2)  # a few more passes: still nothing moves
    finally:
        watch.stop()
    assert status["message"].startswith("invalid spec, traffic held: spec.metrics.gates[0]")
    assert status.get("canary") is None
    assert set(watch.weights) <= {0}
    assert env.route_weights()["imagegen-canary"] == 0
    assert "RolloutStarted" not in env.event_reasons()
