"""Spec and status of the production-traffic gates: PromQL per arm, judged every window.

While real users reach the canary (0% < weight < 100%), the operator queries the metric
provider once per `interval` for both arms over the window since the last evaluation.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue, StringConstraints

from imagerollout.api.fields import (
    DECIMAL,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    UNIQUE_NAMES,
    ApiModel,
    JsonDict,
    cel,
    decimal_field,
    duration_field,
    exactly_one,
    lit,
    not_blank,
    quoted,
    url_has_host,
)

COUNT_TEMPLATES = ("ErrorRate", "DecoderFailures", "SlowRequests")
BIG = "100000000"
TEMPLATE_VARIABLES = ("namespace", "service", "variant", "rollout", "window")
# A `{{name}}` token, as core/metrics/promql.py finds them (RE2 syntax).
VARIABLE_TOKEN = r"\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}"
KNOWN_TOKEN = r"^\{\{\s*(" + "|".join(TEMPLATE_VARIABLES) + r")\s*\}\}$"
KNOWN_VARIABLES = ", ".join(f"{{{{{name}}}}}" for name in TEMPLATE_VARIABLES)
# A bucket bound as Prometheus writes it in the `le` label.
BUCKET_BOUND = r"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"


class MetricTemplate(StrEnum):
    ERROR_RATE = "ErrorRate"
    DECODER_FAILURES = "DecoderFailures"
    SLOW_REQUESTS = "SlowRequests"
    LATENCY_P95 = "LatencyP95"
    LATENCY_P99 = "LatencyP99"
    COST_PER_IMAGE = "CostPerImage"


class SecretRef(ApiModel):
    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253, description="Secret name.")


# A path that means a URL copied from the browser or the API docs, not the server's base URL.
_API_PATH = r"^[a-zA-Z]+://[^/?#]*(/[^?#]*)?/(api/v1(/|$|[?#])|graph/?($|[?#])|query/?($|[?#]))"
ADDRESS_RULES: list[JsonValue] = [
    url_has_host("address", "http://prometheus.monitoring:9090"),
    cel(
        f"!self.matches({lit('^[a-zA-Z]+://[^/?#]*@')})",
        "address must not carry credentials; use authSecretRef",
        # The value is shown with the credentials masked: error messages end up in logs.
        "'address ' + "
        + quoted(
            "self.substring(0, self.indexOf('://') + 3) + '***' + "
            "self.substring(self.lastIndexOf('@'))"
        )
        + " + ' must not carry credentials; use authSecretRef'",
    ),
    cel(
        f"!self.matches({lit(_API_PATH)}) && !self.matches({lit('[?#]')})",
        "address must be the base URL of Prometheus, without /api/v1/query",
        f"'address ' + {quoted('self')} + ' must be the base URL of Prometheus, such as "
        "http://prometheus.monitoring:9090, without /api/v1/query, a UI page or a query "
        "string: the operator adds /api/v1/query itself'",
    ),
]


class PrometheusProvider(ApiModel):
    address: str = Field(
        description="Base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090 "
        "(or with a path prefix, e.g. http://mimir/prometheus), without /api/v1/query.",
        pattern=r"^https?://[^\s]+$",
        max_length=512,
        json_schema_extra={"x-kubernetes-validations": ADDRESS_RULES},
    )
    auth_secret_ref: SecretRef | None = Field(
        None,
        description="Secret in the rollout's namespace with `token` (bearer) or `username` and "
        "`password` (basic auth), and optionally `ca.crt` (PEM bundle to verify TLS).",
    )
    timeout: str = duration_field("Timeout of each query.", "1s", "60s", default="10s")


class MetricProvider(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                exactly_one(
                    ["prometheus"],
                    "exactly one metric provider must be set (supported: prometheus)",
                )
            ]
        }
    )
    prometheus: PrometheusProvider | None = Field(None, description="A Prometheus server.")


_BOTH = (
    f"has(self.min) && has(self.max) && self.min.matches({lit(DECIMAL)}) && "
    f"self.max.matches({lit(DECIMAL)})"
)


class Threshold(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("has(self.min) || has(self.max)", "threshold needs min or max"),
                cel(
                    f"!({_BOTH}) || double(self.min) <= double(self.max)",
                    "threshold min must not exceed max",
                    f"'threshold min ' + {quoted('self.min')} + ' is greater than max ' + "
                    f"{quoted('self.max')} + ': every window would breach it'",
                    field_path=".min",
                ),
            ]
        }
    )
    min: str | None = decimal_field("The canary's value must be at least this.", BIG, default=None)
    max: str | None = decimal_field("The canary's value must be at most this.", BIG, default=None)


QUERY_FIELDS = ("query", "errorsQuery", "countQuery")


def _known_variables(field: str) -> JsonDict:
    """A CEL rule on a metric gate: every `{{name}}` in `field` is a variable or an arg."""
    known = (
        f"t.matches({lit(KNOWN_TOKEN)}) || "
        "(has(self.args) && t.substring(2, size(t) - 2).trim() in self.args)"
    )
    tokens = f"self.{field}.findAll({lit(VARIABLE_TOKEN)})"
    return cel(
        f"!has(self.{field}) || {tokens}.all(t, {known})",
        f"{field} uses an unknown template variable",
        f"'{field} uses unknown variables %s; known: {KNOWN_VARIABLES} and the keys of args'"
        f".format([{tokens}.filter(t, !({known}))])",
        field_path=f".{field}",
    )


_COUNT = (
    f"(has(self.template) && self.template in {list(COUNT_TEMPLATES)}) || has(self.errorsQuery)"
)
METRIC_GATE_RULES: list[JsonValue] = [
    exactly_one(
        ["template", "query", "errorsQuery"], "set exactly one of template, query or errorsQuery"
    ),
    cel("!has(self.errorsQuery) || has(self.countQuery)", "errorsQuery needs countQuery"),
    cel(
        f"{_COUNT} || has(self.maxDegradation) || has(self.threshold)",
        "a value gate needs maxDegradation or threshold",
    ),
    cel(f"!has(self.maxRatio) || {_COUNT}", "maxRatio applies to count gates only"),
    cel(
        f"!has(self.maxRatio) || !self.maxRatio.matches({lit(DECIMAL)}) || "
        "double(self.maxRatio) >= 1.0",
        "maxRatio must be at least 1",
        f"'maxRatio must be at least 1, got ' + {quoted('self.maxRatio')}",
        field_path=".maxRatio",
    ),
    cel(
        "!has(self.template) || self.template != 'SlowRequests' || "
        "(has(self.args) && 'le' in self.args)",
        'SlowRequests needs args.le, a bucket bound of the latency histogram such as "1.0"',
    ),
    cel("!has(self.maxDegradation) || !(" + _COUNT + ")", "count gates use maxRatio"),
    cel(
        "!has(self.template) || self.template != 'SlowRequests' || !has(self.args) || "
        f"!('le' in self.args) || self.args['le'].matches({lit(BUCKET_BOUND)})",
        'SlowRequests args.le must be a plain number, a bucket bound such as "2.5"',
        "'SlowRequests args.le ' + "
        + quoted("self.args['le']")
        + " + ' must be a plain number of seconds, as in the le label of the histogram "
        'buckets, such as "2.5"\'',
        field_path=".args",
    ),
    cel(
        f"!has(self.args) || self.args.all(k, !(k in {list(TEMPLATE_VARIABLES)}))",
        "args may not redefine namespace, service, variant, rollout or window",
        "'args may not redefine %s: the operator sets them'.format("
        f"[self.args.filter(k, k in {list(TEMPLATE_VARIABLES)})])",
        field_path=".args",
    ),
    *(_known_variables(field) for field in QUERY_FIELDS),
]


class MetricGate(ApiModel):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": METRIC_GATE_RULES})
    name: str = Field(
        description="Gate name, used in status and events.", pattern=DNS_LABEL, max_length=63
    )
    template: MetricTemplate | None = Field(
        None,
        description="A built-in query over the model server's metrics (imagegen_*), "
        "selected by the namespace and service labels.",
    )
    query: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        json_schema_extra={"x-kubernetes-validations": [not_blank("query")]},
        description="PromQL giving one value per arm. Variables: {{namespace}}, {{service}}, "
        "{{variant}}, {{rollout}}, {{window}} and args; values are escaped.",
    )
    errors_query: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        json_schema_extra={"x-kubernetes-validations": [not_blank("errorsQuery")]},
        description="PromQL counting bad events per arm in {{window}}; judged against "
        "countQuery with a sequential rate test.",
    )
    count_query: str | None = Field(
        None,
        min_length=1,
        max_length=4096,
        json_schema_extra={"x-kubernetes-validations": [not_blank("countQuery")]},
        description="PromQL counting requests per arm in {{window}}, for the minCount guard.",
    )
    args: dict[str, Annotated[str, StringConstraints(max_length=253)]] = Field(
        default_factory=dict,
        max_length=16,
        description="Extra template variables, e.g. reason for DecoderFailures.",
    )
    max_ratio: str | None = decimal_field(
        "Count gates: the canary/baseline rate ratio tolerated (default 1). The gate fails "
        "once the canary's rate is shown to exceed it.",
        "1000",
        default=None,
    )
    max_degradation: str | None = decimal_field(
        "Value gates: how much higher than the baseline's the canary's value may be, in the "
        "metric's unit (seconds for latency, dollars for cost).",
        BIG,
        default=None,
    )
    threshold: Threshold | None = Field(None, description="Plain bounds on the canary's value.")
    min_count: int = Field(
        20, ge=0, le=1000000, description="Requests each arm needs in a window for it to count."
    )
    failure_limit: int = Field(
        0, ge=0, le=100, description="Breaching windows tolerated before the gate fails."
    )


class InconclusiveAction(StrEnum):
    HOLD = "Hold"
    PAUSE = "Pause"
    ABORT = "Abort"


class MetricsInconclusive(ApiModel):
    action: InconclusiveAction = Field(
        InconclusiveAction.HOLD,
        description="Hold: the step waits for good data. Pause: pause after `limit` "
        "inconclusive evaluations in a row. Abort: roll back after `limit`.",
    )
    limit: int = Field(3, ge=1, le=1000, description="Inconclusive evaluations in a row.")


class MetricsAnalysis(ApiModel):
    provider: MetricProvider = Field(description="Where the metrics come from.")
    interval: str = duration_field("Length of each evaluation window.", "2s", "1h", default="30s")
    min_windows: int = Field(
        2, ge=1, le=1000, description="Conclusive windows every gate needs at each step."
    )
    stale_after: str = duration_field(
        "A window whose newest sample is older than this is Inconclusive.", "1s", "1h", default="2m"
    )
    alpha: str = decimal_field(
        "False-rollback rate of the count gates' sequential tests, split across them.",
        "0.5",
        positive=True,
        default="0.05",
    )
    inconclusive: MetricsInconclusive = Field(
        default_factory=MetricsInconclusive, description="What missing or bad data does."
    )
    gates: list[MetricGate] = Field(
        min_length=1,
        max_length=16,
        description="Production-traffic gates, canary against baseline.",
        json_schema_extra={"x-kubernetes-validations": [UNIQUE_NAMES]},
    )


class MetricGateStatus(ApiModel):
    gate: str
    verdict: str = Field(description="Pass, Fail or Inconclusive, for the latest window.")
    reason: str = ""
    canary: str | None = None
    baseline: str | None = None
    bound: str | None = Field(None, description="The limit the canary's value was held to.")
    canary_count: int | None = Field(None, description="Canary requests in the latest window.")
    baseline_count: int | None = None
    windows: int = Field(0, description="Conclusive windows at the current step.")
    window_start: str | None = Field(
        None,
        description="Start of the gate's open window: where its last conclusive window ended. "
        "A window with fewer than minCount requests stays open and grows.",
        json_schema_extra={"format": "date-time"},
    )
    failures: int = Field(0, description="Breaching windows in this rollout.")
    evidence: list[float] = Field(
        default_factory=list,
        max_length=16,
        description="Count gates: log likelihood ratios of the sequential test, per ratio.",
    )


class MetricsStatus(ApiModel):
    evaluations: int = 0
    last_evaluation: str | None = Field(None, json_schema_extra={"format": "date-time"})
    window_seconds: int | None = Field(None, description="Length of the latest window.")
    step_index: int | None = Field(None, description="The step the gates' windows count for.")
    inconclusive_streak: int = Field(0, description="Inconclusive evaluations in a row.")
    inconclusive_paused: bool = False
    gates: list[MetricGateStatus] = Field(default_factory=list, max_length=16)
