"""Spec and status of ImageModelRollout v1alpha1.

The CRD in crds/ is generated from these models (`imagerollout crd`); CEL rules ride along
in `json_schema_extra` so that the API server rejects bad input with a clear message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue, StringConstraints, model_validator

from imagerollout.api.capabilities import (
    CAPABILITY_LIST_RULES,
    Capability,
    CapabilityStatus,
    OnCapabilityFailure,
    Pin,
)
from imagerollout.api.endpoint import Endpoint
from imagerollout.api.fields import (
    DECIMAL,
    DNS_LABEL,
    DNS_SUBDOMAIN,
    UNIQUE_NAMES,
    ApiModel,
    cel,
    decimal_field,
    duration_field,
    lit,
    quoted,
)
from imagerollout.api.metric_gates import MetricsAnalysis, MetricsStatus
from imagerollout.api.net_cost import NetCostPrices
from imagerollout.api.notifications import (
    SUBSCRIPTION_RULES,
    WEBHOOK_RULES,
    Subscription,
    Webhook,
    WebhooksStatus,
)
from imagerollout.api.ocr_settings import OcrSettings
from imagerollout.api.sampler_policy import SamplerFinding, SamplerPolicy
from imagerollout.api.traffic_routing import TrafficRouting


class TargetRef(ApiModel):
    api_version: str = Field(
        "apps/v1", description="API version of the target.", pattern=r"^apps/v1$"
    )
    kind: str = Field(
        "Deployment",
        description="Kind of the target. Only Deployment is supported.",
        pattern=r"^Deployment$",
    )
    name: str = Field(
        description="Name of the Deployment that serves the image model.",
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
    )


class ServiceSpec(ApiModel):
    port: int = Field(description="Port the primary and canary Services expose.", ge=1, le=65535)
    target_port: int | None = Field(
        None, description="Container port; defaults to port.", ge=1, le=65535
    )


class Metric(StrEnum):
    OCR_ACCURACY = "OCRAccuracy"
    OCR_EDIT_DISTANCE = "OCREditDistance"
    SHARPNESS = "Sharpness"
    EXPOSURE = "Exposure"
    NOISE = "Noise"
    COLORFULNESS = "Colorfulness"
    SSIM = "SSIM"
    PHASH = "PHash"
    LATENCY = "Latency"
    LATENCY_RATIO = "LatencyRatio"
    COST_PER_IMAGE = "CostPerImage"
    NET_COST = "NetCost"
    ERRORS = "Errors"


class FullTrafficPolicy(StrEnum):
    AFTER_PASS = "AfterPass"
    SCHEDULED = "Scheduled"


class InconclusivePolicy(StrEnum):
    PAUSE = "Pause"
    EXTEND = "Extend"
    ABORT = "Abort"


# The largest maxDegradation with which a gate can still fail, in the metric's unit: the
# metric's whole range (core/quality/gates.py METRICS), or a generous cap where it has none.
DEGRADATION_BOUNDS: dict[Metric, tuple[str, str]] = {
    Metric.OCR_ACCURACY: ("100", "percentage points"),
    Metric.OCR_EDIT_DISTANCE: ("1", "(the normalized edit distance is 0..1)"),
    Metric.SHARPNESS: ("5", "(log10 of the Laplacian variance)"),
    Metric.EXPOSURE: ("1", "(exposure is 0..1)"),
    Metric.NOISE: ("255", "grey levels"),
    Metric.COLORFULNESS: ("500", "(colorfulness is 0 to about 470)"),
    Metric.SSIM: ("1", "(SSIM is at most 1)"),
    Metric.PHASH: ("64", "bits"),
    Metric.LATENCY: ("600", "seconds"),
    Metric.LATENCY_RATIO: ("1000", "percent (11 times slower)"),
    Metric.COST_PER_IMAGE: ("1000", "(currency per image)"),
    Metric.NET_COST: ("1000", "(currency per image)"),
    Metric.ERRORS: ("100", "percentage points"),
}


def _by_metric(values: dict[Metric, str], otherwise: str) -> str:
    """CEL: the value for self.metric, as a chain of conditionals (no map lookup to fail)."""
    chain = otherwise
    for metric, value in reversed(values.items()):
        chain = f"self.metric == '{metric.value}' ? {value} : {chain}"
    return f"({chain})"


def _degradation_rule() -> JsonValue:
    bound = _by_metric({m: repr(float(b)) for m, (b, _) in DEGRADATION_BOUNDS.items()}, "1000.0")
    text = _by_metric({m: f"'{b} {u}'" for m, (b, u) in DEGRADATION_BOUNDS.items()}, "''")
    return cel(
        f"!self.maxDegradation.matches({lit(DECIMAL)}) || double(self.maxDegradation) <= {bound}",
        "maxDegradation is more than the metric allows, so the gate could never fail",
        f"'maxDegradation ' + {quoted('self.maxDegradation')} + ' is more than ' + "
        f"self.metric + ' allows, so the gate could never fail: at most ' + {text}",
        field_path=".maxDegradation",
    )


_NET_COST_RULE = cel(
    "(self.metric == 'NetCost') == has(self.netCost)",
    "netCost (reworkCost, latencyCost) is set exactly when metric is NetCost",
    "'gate ' + "
    + quoted("self.name")
    + " + (has(self.netCost) ? ': netCost is only read by metric NetCost, not ' + self.metric "
    ": ': metric NetCost needs netCost: {reworkCost: ...}')",
    field_path=".netCost",
)


class Gate(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [_degradation_rule(), _NET_COST_RULE]}
    )
    name: str = Field(
        description="Gate name, used in status and events.", pattern=DNS_LABEL, max_length=63
    )
    metric: Metric = Field(description="What the gate compares between canary and baseline.")
    max_degradation: str = decimal_field(
        "How much worse the canary may be: percentage points for OCRAccuracy and Errors "
        "(failed requests), percent for LatencyRatio (25: a quarter slower), otherwise the "
        "metric's unit (seconds for Latency, log10 for Sharpness, edit distance 0..1, SSIM "
        "0..1, pHash bits, currency per image for CostPerImage and NetCost). Each metric has its "
        "own upper bound, such as 100 points for OCRAccuracy, 1 for SSIM and 64 bits for PHash.",
        "1000",
    )
    strata: list[Annotated[str, StringConstraints(min_length=1, max_length=63)]] = Field(
        default_factory=list,
        max_length=16,
        description="Strata the gate judges, each separately; empty means every stratum "
        "(for OCR metrics: every stratum with expected text).",
    )
    net_cost: NetCostPrices | None = Field(
        None,
        description="Prices of metric NetCost: per image, cost + reworkCost when the image "
        "fails its text check + latencyCost per second.",
    )

    @model_validator(mode="after")
    def _net_cost_priced(self) -> Gate:
        if (self.metric == Metric.NET_COST) != (self.net_cost is not None):
            raise ValueError(f"gate {self.name}: netCost is set exactly when metric is NetCost")
        return self


class ConfigMapKeyRef(ApiModel):
    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    key: str = Field(
        "suite.yaml",
        description="Key of the suite YAML in the ConfigMap.",
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
    )


class SuiteRef(ApiModel):
    config_map_ref: ConfigMapKeyRef | None = Field(
        None, description="A ConfigMap holding the suite YAML; omitted: the built-in suite."
    )


def _trimmed(url: str) -> str:
    """CEL: the URL compared case-insensitively, without a trailing slash."""
    return f"({url}.endsWith('/') ? {url}.substring(0, size({url}) - 1) : {url}).lowerAscii()"


class Endpoints(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.baseline) || !has(self.canary) || "
                    f"{_trimmed('self.baseline.url')} != {_trimmed('self.canary.url')}",
                    "the canary URL must differ from the baseline URL",
                    "'canary url ' + "
                    + quoted("self.canary.url")
                    + " + ' is the baseline url: the baseline would be judged against itself "
                    "and every gate would pass'",
                    field_path=".canary.url",
                )
            ]
        }
    )
    baseline: Endpoint | None = Field(None, description="Defaults to the primary Service.")
    canary: Endpoint | None = Field(None, description="Defaults to the canary Service.")


class Stage0(ApiModel):
    samples: int = Field(
        40, ge=0, le=10000, description="Pairs sent straight to the canary at 0% traffic."
    )
    batch_size: int = Field(8, ge=1, le=64, description="Pairs generated concurrently.")


class Evidence(ApiModel):
    path: str = Field(
        "/var/lib/imagerollout/evidence",
        min_length=1,
        max_length=1024,
        description="Absolute filesystem path, such as a PVC mount.",
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.startsWith('/')",
                    "evidence.path must be an absolute path",
                    f"'evidence.path ' + {quoted('self')} + ' must be an absolute path, such as "
                    "/var/lib/imagerollout/evidence'",
                )
            ]
        },
    )
    retain_rollouts: int = Field(10, ge=1, le=1000, description="Rollouts kept on disk.")


class Analysis(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.minSamples <= self.maxSamples",
                    "minSamples must not exceed maxSamples",
                    "'minSamples must not exceed maxSamples, got minSamples %d and maxSamples %d'"
                    ".format([self.minSamples, self.maxSamples])",
                    field_path=".minSamples",
                )
            ]
        }
    )
    suite: SuiteRef = Field(default_factory=SuiteRef, description="The validation suite.")
    endpoints: Endpoints = Field(default_factory=Endpoints, description="Where images come from.")
    size: str = Field("512x512", pattern=r"^[0-9]{2,4}x[0-9]{2,4}$", description="Image size.")
    gates: list[Gate] = Field(
        default_factory=list,
        max_length=16,
        description="Pass/fail criteria, canary against baseline. Empty: the default set "
        "(text OCRAccuracy 5, errors Errors 5, latency LatencyRatio 25, sharpness Sharpness "
        "0.3). An Errors gate is always judged: one named errors is added when none is listed.",
        json_schema_extra={"x-kubernetes-validations": [UNIQUE_NAMES]},
    )
    alpha: str = decimal_field(
        "Total false-rollback rate, split across gates.", "0.5", positive=True, default="0.05"
    )
    min_samples: int = Field(30, ge=1, le=100000, description="Pairs needed at each step.")
    max_samples: int = Field(
        2000, ge=1, le=100000, description="Pairs after which an undecided judge is Inconclusive."
    )
    stage0: Stage0 = Field(default_factory=Stage0, description="Probing at 0% traffic.")
    inconclusive: InconclusivePolicy = Field(
        InconclusivePolicy.PAUSE, description="What Inconclusive at maxSamples does."
    )
    full_traffic: FullTrafficPolicy = Field(
        FullTrafficPolicy.AFTER_PASS,
        description="AfterPass: the step to 100% (and promotion) waits until every quality "
        "gate has passed, so an undecided judge holds at the last partial weight. Scheduled: "
        "steps follow their schedule; only the last step waits for the gates.",
    )
    evidence: Evidence = Field(default_factory=Evidence, description="Raw outputs kept.")
    gpu_second_price: str = decimal_field(
        "Cost of one GPU-second, for cost per image (used when no cost header is returned).",
        "1000",
        default="0",
    )
    ocr: OcrSettings = Field(
        default_factory=OcrSettings, description="The OCR engine of the text checks."
    )
    sampler_policy: SamplerPolicy = Field(
        default_factory=SamplerPolicy,
        description="Rules on the canary's generation settings (guidance, steps), checked "
        "before stage 0: Warn posts an event, Block keeps the rollout from starting.",
    )


class Pause(ApiModel):
    duration: str | None = duration_field(
        "How long to hold the step. Omit it to wait for a manual promote.",
        "1s",
        "24h",
        default=None,
    )


class Step(ApiModel):
    weight: int = Field(description="Percent of traffic sent to the canary.", ge=1, le=100)
    pause: Pause | None = Field(
        None, description="Hold the step; without it the step completes when the weight is set."
    )


STEP_RULES: list[JsonValue] = [
    cel(
        "self.all(s, self.exists_one(t, t.weight == s.weight)) && self.map(s, s.weight).isSorted()",
        "step weights must be strictly increasing",
        "'step weights must be strictly increasing, got %s'.format([self.map(s, s.weight)])",
    ),
    # An empty list is left to minItems; indexing it would fail with "index out of bounds".
    cel(
        "size(self) == 0 || self[size(self) - 1].weight == 100",
        "the last step must set weight 100",
        "'the last step must set weight 100, got %d'.format([self[size(self) - 1].weight])",
    ),
]


# Stage 0 probes the canary while it takes no traffic; with a replica split, a canary pod
# behind the users' Service always takes traffic, so there is no such moment.
_STAGE0 = "self.analysis.stage0"
REPLICAS_STAGE0_RULE = cel(
    f"!has(self.trafficRouting.replicas) || !has(self.analysis) || "
    f"(has({_STAGE0}) && {_STAGE0}.samples == 0)",
    "with trafficRouting.replicas a canary pod always takes user traffic, so there is no "
    "stage 0: set analysis.stage0.samples to 0",
    "'with trafficRouting.replicas a canary pod always takes user traffic, so there is no "
    "stage 0: set analysis.stage0.samples to 0, got %d'.format("
    f"[has({_STAGE0}) ? {_STAGE0}.samples : {Stage0.model_fields['samples'].default}])",
    field_path=".analysis.stage0.samples",
)


# Header rules exist for Gateway API HTTPRoutes with Service backends and for Istio
# VirtualServices (docs/capabilities.md). A replica split has one Service, which cannot route by
# header; an InferencePool route would need a fallback pool with its own endpoint picker.
_ROUTING = "self.trafficRouting"
CAPABILITY_ROUTER = cel(
    "!has(self.capabilities) || size(self.capabilities) == 0 || "
    f"has({_ROUTING}.gatewayAPI) || has({_ROUTING}.istio)",
    "spec.capabilities needs trafficRouting.gatewayAPI or trafficRouting.istio: only they "
    "route requests by header",
    "'spec.capabilities needs trafficRouting.gatewayAPI or trafficRouting.istio, got ' + "
    f"(has({_ROUTING}.replicas) ? 'trafficRouting.replicas: a replica split sends every "
    "request to one Service, which cannot route by header' : 'trafficRouting.inferencePool: "
    "a pinned capability would need a fallback InferencePool with its own endpoint picker, "
    "which the operator does not run')",
    field_path=".capabilities",
)


class RolloutSpec(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": [REPLICAS_STAGE0_RULE, CAPABILITY_ROUTER]}
    )
    target_ref: TargetRef = Field(description="The Deployment whose pod template is rolled out.")
    service: ServiceSpec = Field(description="Services the operator creates for both arms.")
    traffic_routing: TrafficRouting = Field(description="How traffic is split; exactly one.")
    steps: list[Step] = Field(
        description="Canary weights in order, for example 5, 25, 50, 100.",
        min_length=1,
        max_length=20,
        json_schema_extra={"x-kubernetes-validations": STEP_RULES},
    )
    analysis: Analysis | None = Field(
        None,
        description="Quality gates: the suite, scorers and the judge. Omitted: steps only wait.",
    )
    metrics: MetricsAnalysis | None = Field(
        None,
        description="Production-traffic gates from a metric provider (Prometheus), judged "
        "while users reach the canary.",
    )
    progress_deadline: str = duration_field(
        "How long a rollout may wait on pods or routing before it is aborted.",
        "10s",
        "24h",
        default="10m",
    )
    capabilities: list[Capability] = Field(
        default_factory=list,
        max_length=8,
        description="Job types routed by a header and judged by their own strata "
        "(docs/capabilities.md).",
        json_schema_extra={"x-kubernetes-validations": CAPABILITY_LIST_RULES},
    )
    on_capability_failure: OnCapabilityFailure = Field(
        OnCapabilityFailure.ROLLBACK,
        description="Rollback: a Fail in a capability's strata rolls the whole canary back. "
        "Pin: the canary is promoted for general traffic and that capability's jobs stay on "
        "the previous stable model, served by a fallback Deployment the operator owns.",
    )
    notifications: list[Subscription] = Field(
        default_factory=list,
        max_length=8,
        description="Providers of the operator's notifiers Secret to notify, and of what "
        "(docs/notifications.md).",
        json_schema_extra={"x-kubernetes-validations": SUBSCRIPTION_RULES},
    )
    webhooks: list[Webhook] = Field(
        default_factory=list,
        max_length=16,
        description="Gate webhooks, as Flagger calls them: confirm-rollout, pre-rollout, "
        "confirm-promotion and rollback (docs/notifications.md).",
        json_schema_extra={"x-kubernetes-validations": WEBHOOK_RULES},
    )


class Phase(StrEnum):
    INITIALIZING = "Initializing"
    INITIALIZED = "Initialized"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    DEGRADED = "Degraded"


class Revision(ApiModel):
    revision: str = Field(description="Hash of the pod template.")
    model: str = Field(description="Model of the arm: the first container's image.")


class Condition(ApiModel):
    type: str
    status: str = Field(pattern=r"^(True|False|Unknown)$")
    reason: str
    message: str = ""
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})
    observed_generation: int | None = None


class PauseCondition(ApiModel):
    reason: str = Field(description="ManualPause or CanaryPauseStep.")
    start_time: str = Field(json_schema_extra={"format": "date-time"})


class GateStatus(ApiModel):
    """One gate on one stratum. Numbers are strings, as measurements in status often are."""

    gate: str
    verdict: str = Field(description="Pass, Fail or Inconclusive.")
    samples: int
    baseline: str
    canary: str
    effect: str = Field(description="canary - baseline.")
    lower: str = Field(description="Anytime-valid lower bound on the effect.")
    upper: str = Field(description="Anytime-valid upper bound on the effect.")


class ArmSnapshot(ApiModel):
    """One arm: accuracy, latency and cost over pairs where both arms answered; errors apart."""

    typography_accuracy: str | None = None
    latency_seconds: str | None = None
    cost_per_image: str | None = None
    net_cost_per_usable_image: str | None = Field(
        None,
        description="With a NetCost gate its mean net cost (each failed image reworked); "
        "otherwise cost per image / typography accuracy.",
    )
    errors: int = 0
    error_rate: str | None = Field(None, description="Failed requests / pairs probed.")


class Snapshot(ApiModel):
    """Before/after for on-call: baseline and canary side by side, with the test's bounds."""

    baseline: ArmSnapshot = Field(default_factory=ArmSnapshot)
    canary: ArmSnapshot = Field(default_factory=ArmSnapshot)
    typography_effect_bounds: str | None = None
    latency_effect_bounds: str | None = None


class AnalysisStatus(ApiModel):
    outcome: str | None = Field(None, description="Promote, Continue, Rollback or Inconclusive.")
    samples: int = Field(0, description="Pairs judged so far in this rollout.")
    step_start_samples: int = Field(0, description="Pairs judged when the current step began.")
    max_samples: int = 0
    gates: list[GateStatus] = Field(default_factory=list, max_length=128)
    snapshot: Snapshot | None = None
    evidence: str | None = Field(None, description="Where the raw outputs of this rollout are.")
    extended: bool = Field(False, description="The Extend policy doubled maxSamples once.")
    inconclusive_paused: bool = False
    state: str = Field("", description="Sufficient statistics (JSON), so a restart resumes.")


class RolloutStatus(ApiModel):
    phase: Phase | None = None
    message: str = ""
    observed_generation: int | None = None
    canary_weight: int = 0
    current_step_index: int | None = Field(None, description="Index into spec.steps.")
    step_started_at: str | None = None
    blocked_since: str | None = Field(None, description="Start of a wait on pods or routing.")
    rollout_started_at: str | None = None
    stable: Revision | None = None
    canary: Revision | None = None
    controller_pause: bool = Field(False, description="The current step's pause was issued.")
    conditions: list[Condition] = Field(default_factory=list)
    analysis: AnalysisStatus | None = None
    metrics: MetricsStatus | None = None
    report_url: str | None = Field(
        None,
        alias="reportURL",
        description="The evidence report of the current attempt, served by the operator.",
    )
    capabilities: list[CapabilityStatus] = Field(
        default_factory=list, description="Per capability: the backends serving it and why."
    )
    pins: list[Pin] = Field(
        default_factory=list, description="Capabilities kept on an earlier model (Pin)."
    )
    webhooks: WebhooksStatus | None = Field(None, description="Gate webhooks of this attempt.")
    sampler_findings: list[SamplerFinding] = Field(
        default_factory=list,
        max_length=32,
        description="spec.analysis.samplerPolicy rules that hold for the canary.",
    )
    # Requests from users (kubectl patch --subresource=status), as in Argo Rollouts.
    abort: bool = Field(False, description="Set true to abort; set false again to retry.")
    promote_full: bool = Field(False, description="Set true to skip the remaining steps.")
    promote_step: bool = Field(False, description="Set true to complete the current step.")
    pause_conditions: list[PauseCondition] = Field(
        default_factory=list, description="Non-empty pauses the rollout; clear it to resume."
    )
