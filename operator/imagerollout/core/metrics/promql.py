"""PromQL templates for the production-traffic gates, and rendering them safely.

A value substituted inside a string literal is escaped for that literal, so a name can
never end the string and add matchers. Outside string literals only plain tokens
(letters, digits, `_`, `:`, `.`) may be substituted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from imagerollout.api.metric_gates import (
    COUNT_TEMPLATES,
    TEMPLATE_VARIABLES,
    MetricGate,
    MetricTemplate,
)

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BARE_TOKEN = re.compile(r"[A-Za-z0-9_:.]+")
SELECTOR = 'namespace="{{namespace}}",service="{{service}}"'


def _increase(metric: str, extra: str = "") -> str:
    return f"sum(increase({metric}{{{SELECTOR}{extra}}}[{{{{window}}}}]))"


def _latency(quantile: str) -> str:
    buckets = f"imagegen_request_duration_seconds_bucket{{{SELECTOR}}}"
    return f"histogram_quantile({quantile}, sum by (le) (rate({buckets}[{{{{window}}}}])))"


REQUESTS = _increase("imagegen_requests_total")
AGE = f"time() - max(timestamp(imagegen_requests_total{{{SELECTOR}}}))"
ERRORS = {
    MetricTemplate.ERROR_RATE: _increase("imagegen_requests_total", ',code=~"5.."'),
    MetricTemplate.DECODER_FAILURES: _increase(
        "imagegen_errors_total", ',reason=~"decoder_failure.*"'
    ),
}
DECODER_REASON = _increase("imagegen_errors_total", ',reason="{{reason}}"')
# Requests slower than the bucket bound `le`: all requests minus those in the bucket.
_IN_BUCKET = _increase("imagegen_request_duration_seconds_bucket", ',le="{{le}}"')
SLOWER_THAN_LE = f"{_increase('imagegen_request_duration_seconds_count')} - {_IN_BUCKET}"
VALUES = {
    MetricTemplate.LATENCY_P95: _latency("0.95"),
    MetricTemplate.LATENCY_P99: _latency("0.99"),
    MetricTemplate.COST_PER_IMAGE: (
        f"{_increase('imagegen_cost_dollars_total')} / {_increase('imagegen_images_total')}"
    ),
}


class TemplateError(ValueError):
    """A template that cannot be rendered safely; the message names the problem."""


@dataclass(frozen=True)
class GateQueries:
    value: str | None = None  # value gates
    errors: str | None = None  # count gates
    count: str | None = None  # requests in the window, for the minCount guard
    age: str | None = None  # seconds since the arm's newest sample


def is_count_gate(gate: MetricGate) -> bool:
    return gate.errors_query is not None or (
        gate.template is not None and gate.template.value in COUNT_TEMPLATES
    )


def errors_required(gate: MetricGate) -> bool:
    """An empty errors result means "no errors" (a 5xx series appears with the first 5xx),
    except where the query must always answer: a wrong bucket bound must not pass."""
    return gate.template == MetricTemplate.SLOW_REQUESTS


def gate_queries(gate: MetricGate, variables: Mapping[str, str]) -> GateQueries:
    """The rendered queries for one arm of one gate."""
    merged = _merge(gate, variables)
    if gate.template is None:
        return GateQueries(
            value=_render_optional(gate.query, merged),
            errors=_render_optional(gate.errors_query, merged),
            count=_render_optional(gate.count_query, merged),
        )
    count, age = render(REQUESTS, merged), render(AGE, merged)
    if gate.template in VALUES:
        return GateQueries(value=render(VALUES[gate.template], merged), count=count, age=age)
    if gate.template == MetricTemplate.SLOW_REQUESTS:
        slow = render(SLOWER_THAN_LE, merged)
        return GateQueries(errors=slow, count=count, age=age)
    errors = ERRORS[gate.template]
    if gate.template == MetricTemplate.DECODER_FAILURES and "reason" in gate.args:
        errors = DECODER_REASON
    return GateQueries(errors=render(errors, merged), count=count, age=age)


def _merge(gate: MetricGate, variables: Mapping[str, str]) -> dict[str, str]:
    clash = sorted(set(gate.args) & set(TEMPLATE_VARIABLES))
    if clash:
        raise TemplateError(f"gate {gate.name}: args may not redefine {', '.join(clash)}")
    return {**gate.args, **variables}


def _render_optional(template: str | None, variables: Mapping[str, str]) -> str | None:
    return None if template is None else render(template, variables)


def render(template: str, variables: Mapping[str, str]) -> str:
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(template):
        match = VARIABLE.match(template, i)
        if match:
            out.append(_substitute(match.group(1), variables, quote))
            i = match.end()
            continue
        char = template[i]
        if quote is not None and char == "\\" and quote != "`":
            out.append(template[i : i + 2])  # an escape never ends the string
            i += 2
            continue
        if quote is None and char in "\"'`":
            quote = char
        elif char == quote:
            quote = None
        out.append(char)
        i += 1
    if quote is not None:
        raise TemplateError(f"unterminated string literal ({quote}) in query")
    return "".join(out)


def _substitute(name: str, variables: Mapping[str, str], quote: str | None) -> str:
    if name not in variables:
        known = ", ".join(sorted(variables))
        raise TemplateError(f"unknown variable {{{{{name}}}}}; known: {known}")
    value = variables[name]
    if quote is None:
        if not BARE_TOKEN.fullmatch(value):  # `$` alone would accept a trailing newline
            raise TemplateError(f"{{{{{name}}}}} = {value!r} may only be used inside quotes")
        return value
    if quote == "`":
        if "`" in value:
            raise TemplateError(f"{{{{{name}}}}} contains a backtick; use a quoted string")
        return value
    escaped = value.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return escaped.replace("\n", "\\n")


def arm_variables(
    namespace: str, rollout: str, service: str, variant: str, window_seconds: int
) -> dict[str, str]:
    return {
        "namespace": namespace,
        "rollout": rollout,
        "service": service,
        "variant": variant,
        "window": f"{window_seconds}s",
    }
