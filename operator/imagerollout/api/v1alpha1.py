"""Spec and status of ImageModelRollout v1alpha1.

The CRD in crds/ is generated from these models (`imagerollout crd`); CEL rules ride along
in `json_schema_extra` so that the API server rejects bad input with a clear message.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

JsonDict = dict[str, JsonValue]

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DURATION = r"^([0-9]+(ms|s|m|h))+$"


def cel(rule: str, message: str) -> JsonDict:
    return {"rule": rule, "message": message}


def duration_field(description: str, minimum: str, maximum: str, **kw: Any) -> Any:
    """A Go-style duration string ("30s", "5m", "1h30m") bounded by CEL."""
    # The matches() guard keeps "10d" or "soon" from reaching duration(), which would fail
    # with a type conversion error instead of the message.
    rule = (
        f"self.matches('{DURATION}') && "
        f"duration(self) >= duration('{minimum}') && duration(self) <= duration('{maximum}')"
    )
    return Field(
        description=f"{description} A duration such as 30s, 5m or 1h30m, "
        f"from {minimum} to {maximum}.",
        pattern=DURATION,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(rule, f"must be a duration from {minimum} to {maximum}")
            ]
        },
        **kw,
    )


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


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


class HTTPRouteRef(ApiModel):
    name: str = Field(
        description="Name of a user-owned HTTPRoute in the rollout's namespace. Only the "
        "weights of its backendRefs to <rollout>-primary and <rollout>-canary change.",
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
    )


class GatewayAPIRouting(ApiModel):
    http_route: HTTPRouteRef = Field(description="The HTTPRoute whose weights move.")


class TrafficRouting(ApiModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "[has(self.gatewayAPI)].filter(set, set).size() == 1",
                    "exactly one traffic provider must be set (supported: gatewayAPI)",
                )
            ]
        }
    )
    gateway_api: GatewayAPIRouting | None = Field(
        None, alias="gatewayAPI", description="Gateway API HTTPRoute weights."
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
    ),
    # An empty list is left to minItems; indexing it would fail with "index out of bounds".
    cel(
        "size(self) == 0 || self[size(self) - 1].weight == 100",
        "the last step must set weight 100",
    ),
]


class RolloutSpec(ApiModel):
    target_ref: TargetRef = Field(description="The Deployment whose pod template is rolled out.")
    service: ServiceSpec = Field(description="Services the operator creates for both arms.")
    traffic_routing: TrafficRouting = Field(description="How traffic is split; exactly one.")
    steps: list[Step] = Field(
        description="Canary weights in order, for example 5, 25, 50, 100.",
        min_length=1,
        max_length=20,
        json_schema_extra={"x-kubernetes-validations": STEP_RULES},
    )
    progress_deadline: str = duration_field(
        "How long a rollout may wait on pods or routing before it is aborted.",
        "10s",
        "24h",
        default="10m",
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
    # Requests from users (kubectl patch --subresource=status), as in Argo Rollouts.
    abort: bool = Field(False, description="Set true to abort; set false again to retry.")
    promote_full: bool = Field(False, description="Set true to skip the remaining steps.")
    promote_step: bool = Field(False, description="Set true to complete the current step.")
    pause_conditions: list[PauseCondition] = Field(
        default_factory=list, description="Non-empty pauses the rollout; clear it to resume."
    )
