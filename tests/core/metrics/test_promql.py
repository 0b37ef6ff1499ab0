"""PromQL templates: context-aware escaping in render(), and the built-in gate queries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest

from imagerollout.api.metric_gates import MetricGate, MetricTemplate
from imagerollout.core.metrics.promql import (
    TemplateError,
    arm_variables,
    gate_queries,
    is_count_gate,
    render,
)

VARS = arm_variables("prod", "imagegen", "imagegen-canary", "canary", 30)


def gate(**fields: Any) -> MetricGate:
    """A gate parsed from a camelCase manifest, as the operator reads it."""
    return MetricGate.model_validate({"name": "g", **fields})


# --- render(): substitution and escaping -----------------------------------------------

RENDERED = [
    pytest.param('m{a="{{x}}"}', {"x": "plain"}, 'm{a="plain"}', id="plain-in-double-quotes"),
    pytest.param('m{a="{{ x }}"}', {"x": "v"}, 'm{a="v"}', id="spaces-inside-braces"),
    pytest.param('m{a="{{x}}"}', {"x": 'say "hi"'}, r'm{a="say \"hi\""}', id="double-quote"),
    pytest.param('m{a="{{x}}"}', {"x": "a\\b"}, r'm{a="a\\b"}', id="backslash"),
    pytest.param('m{a="{{x}}"}', {"x": "a\nb"}, r'm{a="a\nb"}', id="newline"),
    pytest.param('m{a="{{x}}"}', {"x": "\\"}, r'm{a="\\"}', id="lone-backslash-cannot-eat-quote"),
    pytest.param('m{a="{{x}}"}', {"x": "it's"}, 'm{a="it\'s"}', id="single-quote-in-double"),
    pytest.param("m{a='{{x}}'}", {"x": "it's"}, r"m{a='it\'s'}", id="single-quote"),
    pytest.param("m{a='{{x}}'}", {"x": 'a"b'}, "m{a='a\"b'}", id="double-quote-in-single"),
    pytest.param("m{a='{{x}}'}", {"x": "a\\'\n"}, r"m{a='a\\\'\n'}", id="all-in-single"),
    pytest.param(
        'm{service="{{x}}"}',
        {"x": 'x"} or vector(1) #'},
        r'm{service="x\"} or vector(1) #"}',
        id="injection-stays-inside-the-string",
    ),
    pytest.param(
        'm{service="{{x}}"}',
        {"x": 'x\\"} or vector(1) #'},
        r'm{service="x\\\"} or vector(1) #"}',
        id="injection-with-pre-escaped-quote",
    ),
    pytest.param(
        "m{a=`{{x}}`}", {"x": 'a"b\\c\n{}'}, 'm{a=`a"b\\c\n{}`}', id="backtick-raw-unchanged"
    ),
    pytest.param("rate(m[{{w}}])", {"w": "30s"}, "rate(m[30s])", id="bare-token"),
    pytest.param(
        "{{m}}{a='b'}",
        {"m": "ns:metric_name.x_1"},
        "ns:metric_name.x_1{a='b'}",
        id="bare-metric-name",
    ),
    pytest.param(r'm{a="a\"{{x}}"}', {"x": 'q"'}, r'm{a="a\"q\""}', id="escaped-quote-in-template"),
    pytest.param(
        r"m{a='\'{{x}}'}", {"x": "q'"}, r"m{a='\'q\''}", id="escaped-single-quote-in-template"
    ),
    pytest.param(
        r'm{a="\\"} + {{w}}', {"w": "1"}, r'm{a="\\"} + 1', id="escaped-backslash-ends-string"
    ),
    pytest.param(
        "m{a=\"x\"} / m{b='{{x}}'} + `{{y}}`",
        {"x": "'", "y": '"'},
        "m{a=\"x\"} / m{b='\\''} + `\"`",
        id="contexts-tracked-across-literals",
    ),
    pytest.param('m{a="{{x}}"}', {"x": ""}, 'm{a=""}', id="empty-in-string"),
    pytest.param("no variables here", {}, "no variables here", id="no-variables"),
]


@pytest.mark.parametrize(("template", "variables", "expected"), RENDERED)
def test_render(template: str, variables: Mapping[str, str], expected: str) -> None:
    assert render(template, variables) == expected


REJECTED = [
    pytest.param("m{a='{{nope}}'}", {"x": "1"}, "nope", id="unknown-variable-named"),
    pytest.param("rate(m[{{x}}])", {"x": "30s] or vector(1"}, "inside quotes", id="bare-spaces"),
    pytest.param("m{{x}}", {"x": "{a='b'}"}, "inside quotes", id="bare-braces"),
    pytest.param("m[{{x}}]", {"x": ""}, "inside quotes", id="bare-empty"),
    pytest.param("m[{{x}}]", {"x": "30s\n"}, "inside quotes", id="bare-trailing-newline"),
    pytest.param("m[{{x}}]", {"x": 'a"b'}, "inside quotes", id="bare-quote"),
    pytest.param("m{a=`{{x}}`}", {"x": "a`b"}, "backtick", id="backtick-in-raw-string"),
    pytest.param('m{a="{{x}}}', {"x": "v"}, "unterminated", id="unterminated-double"),
    pytest.param("m{a='x}", {}, "unterminated", id="unterminated-single"),
    pytest.param("m{a=`x}", {}, "unterminated", id="unterminated-backtick"),
    pytest.param(r'm{a="x\"}', {}, "unterminated", id="escaped-quote-does-not-close"),
]


@pytest.mark.parametrize(("template", "variables", "message"), REJECTED)
def test_render_rejects(template: str, variables: Mapping[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render(template, variables)


def test_unknown_variable_error_lists_the_known_ones() -> None:
    with pytest.raises(TemplateError) as raised:
        render('m{a="{{servce}}"}', VARS)
    text = str(raised.value)
    assert "{{servce}}" in text
    assert "service" in text
    assert "namespace" in text


def test_arm_variables() -> None:
    assert VARS == {
        "namespace": "prod",
        "rollout": "imagegen",
        "service": "imagegen-canary",
        "variant": "canary",
        "window": "30s",
    }


# --- gate_queries(): the built-in templates --------------------------------------------

HOSTILE = arm_variables('prod"x', "imagegen", 'svc"} or vector(1) #', "canary", 30)
HOSTILE_SELECTOR = r'namespace="prod\"x",service="svc\"} or vector(1) #"'
SELECTOR = 'namespace="prod",service="imagegen-canary"'
REQUESTS = f"sum(increase(imagegen_requests_total{{{SELECTOR}}}[30s]))"
AGE = f"time() - max(timestamp(imagegen_requests_total{{{SELECTOR}}}))"


def _increase(metric: str, extra: str = "") -> str:
    return f"sum(increase({metric}{{{SELECTOR}{extra}}}[30s]))"


def _quantile(q: str) -> str:
    buckets = f"imagegen_request_duration_seconds_bucket{{{SELECTOR}}}"
    return f"histogram_quantile({q}, sum by (le) (rate({buckets}[30s])))"


IN_HALF_SECOND_BUCKET = _increase("imagegen_request_duration_seconds_bucket", ',le="0.5"')
TEMPLATES = [
    pytest.param(
        {"template": "ErrorRate"},
        None,
        _increase("imagegen_requests_total", ',code=~"5.."'),
        id="ErrorRate",
    ),
    pytest.param(
        {"template": "DecoderFailures"},
        None,
        _increase("imagegen_errors_total", ',reason=~"decoder_failure.*"'),
        id="DecoderFailures",
    ),
    pytest.param(
        {"template": "DecoderFailures", "args": {"reason": 'decoder_failure"oom'}},
        None,
        _increase("imagegen_errors_total", r',reason="decoder_failure\"oom"'),
        id="DecoderFailures-reason",
    ),
    pytest.param(
        {"template": "SlowRequests", "args": {"le": "0.5"}},
        None,
        f"{_increase('imagegen_request_duration_seconds_count')} - {IN_HALF_SECOND_BUCKET}",
        id="SlowRequests",
    ),
    pytest.param(
        {"template": "LatencyP95", "maxDegradation": "0.5"},
        _quantile("0.95"),
        None,
        id="LatencyP95",
    ),
    pytest.param(
        {"template": "LatencyP99", "threshold": {"max": "2"}},
        _quantile("0.99"),
        None,
        id="LatencyP99",
    ),
    pytest.param(
        {"template": "CostPerImage", "maxDegradation": "0.01"},
        f"{_increase('imagegen_cost_dollars_total')} / {_increase('imagegen_images_total')}",
        None,
        id="CostPerImage",
    ),
]


@pytest.mark.parametrize(("fields", "value", "errors"), TEMPLATES)
def test_template_queries(fields: dict[str, Any], value: str | None, errors: str | None) -> None:
    queries = gate_queries(gate(**fields), VARS)
    assert queries.value == value
    assert queries.errors == errors
    assert queries.count == REQUESTS
    assert queries.age == AGE
    assert is_count_gate(gate(**fields)) == (errors is not None)


def test_every_template_is_covered() -> None:
    covered = {cast(dict[str, Any], p.values[0])["template"] for p in TEMPLATES}
    assert covered == {t.value for t in MetricTemplate}


@pytest.mark.parametrize("template", list(MetricTemplate))
def test_template_selectors_escape_hostile_names(template: MetricTemplate) -> None:
    fields: dict[str, Any] = {"template": template.value, "args": {"le": "1.0"}}
    if not is_count_gate(gate(**fields)):
        fields["maxDegradation"] = "1"
    queries = gate_queries(gate(**fields), HOSTILE)
    rendered = [q for q in (queries.value, queries.errors, queries.count, queries.age) if q]
    assert len(rendered) == 3
    for query in rendered:
        assert HOSTILE_SELECTOR in query
        assert 'service="svc"' not in query
    for query in rendered[:2]:
        assert "[30s]" in query


def test_window_is_the_arm_variables_window() -> None:
    variables = arm_variables("prod", "imagegen", "imagegen-primary", "baseline", 125)
    queries = gate_queries(gate(template="ErrorRate"), variables)
    assert queries.errors is not None
    assert queries.errors.endswith("[125s]))")
    assert 'service="imagegen-primary"' in queries.errors


def test_decoder_reason_arg_is_ignored_by_error_rate() -> None:
    queries = gate_queries(gate(template="ErrorRate", args={"reason": "x"}), VARS)
    assert queries.errors == _increase("imagegen_requests_total", ',code=~"5.."')


# --- gate_queries(): custom queries -------------------------------------------------------


def test_custom_value_query() -> None:
    g = gate(
        query='avg_over_time(gpu_memory{pod=~"{{service}}-.*",arm="{{variant}}",tier="{{tier}}"}[{{window}}])',
        args={"tier": 'gold"'},
        threshold={"max": "0.9"},
    )
    queries = gate_queries(g, VARS)
    assert queries.value == (
        r'avg_over_time(gpu_memory{pod=~"imagegen-canary-.*",arm="canary",tier="gold\""}[30s])'
    )
    assert (queries.errors, queries.count, queries.age) == (None, None, None)
    assert not is_count_gate(g)


def test_custom_count_queries() -> None:
    g = gate(
        errorsQuery="sum(increase(app_errors{ns='{{namespace}}',r='{{rollout}}'}[{{window}}]))",
        countQuery="sum(increase(app_requests{ns='{{namespace}}'}[{{window}}]))",
    )
    quoted = arm_variables("prod'x", "imagegen", "imagegen-canary", "canary", 30)
    queries = gate_queries(g, quoted)
    assert queries.errors == r"sum(increase(app_errors{ns='prod\'x',r='imagegen'}[30s]))"
    assert queries.count == r"sum(increase(app_requests{ns='prod\'x'}[30s]))"
    assert (queries.value, queries.age) == (None, None)
    assert is_count_gate(g)


def test_custom_query_with_hostile_bare_value_is_rejected() -> None:
    g = gate(query="m{ns='x'} offset {{o}}", args={"o": "5m) or vector(1"}, threshold={"max": "1"})
    with pytest.raises(TemplateError, match="inside quotes"):
        gate_queries(g, VARS)


@pytest.mark.parametrize("name", ["namespace", "service", "variant", "rollout", "window"])
def test_args_may_not_redefine_built_in_variables(name: str) -> None:
    g = gate(template="DecoderFailures", args={name: "evil", "reason": "x"})
    with pytest.raises(TemplateError, match=f"gate g: args may not redefine {name}"):
        gate_queries(g, VARS)


def test_args_clash_error_names_every_clash() -> None:
    g = gate(query="m", args={"window": "1h", "service": "x", "ok": "y"}, threshold={"max": "1"})
    with pytest.raises(TemplateError, match=r"redefine service, window$"):
        gate_queries(g, VARS)
