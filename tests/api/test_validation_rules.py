"""The CEL rules and bounds the CRD carries agree with what the operator does.

The rules themselves run in the real API server (tests/e2e/test_crd_validation.py); these
tests keep them consistent with the Python they mirror.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from imagerollout.api.crd import DNS_1035_LABEL, MAX_NAME_LENGTH, MAX_WITH_CAPABILITY, crd
from imagerollout.api.metric_gates import (
    BUCKET_BOUND,
    KNOWN_TOKEN,
    TEMPLATE_VARIABLES,
    VARIABLE_TOKEN,
    MetricGate,
)
from imagerollout.api.net_cost import NetCostPrices
from imagerollout.api.v1alpha1 import (
    DEGRADATION_BOUNDS,
    Analysis,
    ConfigMapKeyRef,
    Evidence,
    Gate,
    Metric,
)
from imagerollout.core.metrics.promql import VARIABLE
from imagerollout.core.quality.gates import METRICS
from imagerollout.kube import objects


def rules(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield from node.get("x-kubernetes-validations", [])
        for value in node.values():
            yield from rules(value)
    elif isinstance(node, list):
        for item in node:
            yield from rules(item)


ROOT: dict[str, Any] = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
ALL_RULES = list(rules(ROOT))


def test_every_rule_has_a_static_message_to_fall_back_on() -> None:
    assert ALL_RULES
    assert all(rule.get("message") for rule in ALL_RULES), ALL_RULES


def test_rules_that_can_show_a_value_do() -> None:
    """Only the presence checks (exactly one of, needs X) have no value to show."""
    silent = [r["message"] for r in ALL_RULES if "messageExpression" not in r]
    assert all(
        "exactly one" in m or "needs" in m or "applies to" in m or "use maxRatio" in m
        for m in silent
    ), silent


def test_names_leave_room_for_the_derived_service_names() -> None:
    longest = "a" * MAX_NAME_LENGTH
    for derived in (objects.primary_name(longest), objects.canary_name(longest)):
        assert len(derived) <= 63
        assert re.fullmatch(DNS_1035_LABEL, derived)
    assert len(objects.primary_name(longest)) == 63, "the limit is as loose as it can be"
    root_rules = ROOT["x-kubernetes-validations"]
    assert {r["fieldPath"] for r in root_rules} == {".metadata.name", ".spec.capabilities"}
    assert any(f"<= {MAX_NAME_LENGTH}" in r["rule"] for r in root_rules)
    # A pinned capability's fallback: the rollout and capability names share what is left.
    fallback = objects.fallback_name("a" * (MAX_WITH_CAPABILITY - 10), "c" * 10)
    assert len(fallback) == 63
    assert re.fullmatch(DNS_1035_LABEL, fallback)
    assert any(f"<= {MAX_WITH_CAPABILITY}" in r["rule"] for r in root_rules)


def test_every_metric_has_a_degradation_bound_within_the_field_maximum() -> None:
    assert set(DEGRADATION_BOUNDS) == set(Metric) == set(METRICS)
    for metric, (bound, unit) in DEGRADATION_BOUNDS.items():
        assert 0 < float(bound) <= 1000, metric
        assert unit, metric
        prices = NetCostPrices(rework_cost="1") if metric == Metric.NET_COST else None
        Gate(name="g", metric=metric, max_degradation=bound, net_cost=prices)  # accepted


@pytest.mark.parametrize(
    ("metric", "bound"),
    [
        (Metric.OCR_ACCURACY, "100"),
        (Metric.ERRORS, "100"),
        (Metric.SSIM, "1"),
        (Metric.OCR_EDIT_DISTANCE, "1"),
        (Metric.PHASH, "64"),
        (Metric.LATENCY_RATIO, "1000"),
    ],
)
def test_the_bounds_the_issue_asks_for(metric: Metric, bound: str) -> None:
    assert DEGRADATION_BOUNDS[metric][0] == bound


@pytest.mark.parametrize(
    "text",
    [
        "x{a='{{namespace}}'}",
        "{{ service }} {{variant}}{{rollout}}",
        "{{namesapce}} {{ foo_1 }} {{reason}}",
        "{{ name-space }} {{}} {{1x}} {namespace} {{{window}}}",
        "{{\tnamespace\n}}",
    ],
)
def test_the_cel_token_regex_finds_what_the_renderer_substitutes(text: str) -> None:
    """RE2 and Python agree on these patterns; the renderer's tokens are the rule's tokens."""
    cel_tokens = re.findall(VARIABLE_TOKEN, text)
    assert cel_tokens == [m.group(0) for m in VARIABLE.finditer(text)]
    known = [t for t in cel_tokens if re.fullmatch(KNOWN_TOKEN, t)]
    assert known == [m.group(0) for m in VARIABLE.finditer(text) if m[1] in TEMPLATE_VARIABLES]


@pytest.mark.parametrize(
    ("value", "plain"),
    [("2.5", True), ("1", True), ("0.005", True), ("1e-3", True), ("2.5s", False), ("", False)],
)
def test_bucket_bounds_are_plain_numbers(value: str, plain: bool) -> None:
    assert bool(re.fullmatch(BUCKET_BOUND, value)) is plain


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        pytest.param(ConfigMapKeyRef, {"name": "suite", "key": ""}, id="empty-key"),
        pytest.param(Evidence, {"path": ""}, id="empty-evidence-path"),
        pytest.param(
            Gate, {"name": "g", "metric": "SSIM", "maxDegradation": "0.1", "strata": [""]}, id="s"
        ),
        pytest.param(MetricGate, {"name": "g", "query": "", "threshold": {"max": "1"}}, id="q"),
        pytest.param(Analysis, {"alpha": "0.5x"}, id="alpha-not-a-decimal"),
    ],
)
def test_the_models_refuse_empty_values_too(model: type[pydantic.BaseModel], fields: Any) -> None:
    """What the schema bounds (not CEL) refuse, the operator's models refuse as well."""
    with pytest.raises(pydantic.ValidationError):
        model.model_validate(fields)


def test_an_empty_gate_list_stays_valid() -> None:
    gates = ROOT["properties"]["spec"]["properties"]["analysis"]["properties"]["gates"]
    assert "minItems" not in gates
    assert Analysis.model_validate({"gates": []}).gates == []
