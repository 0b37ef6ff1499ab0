"""spec.capabilities: job types routed by a header, judged by their own strata, with a fallback.

A capability names a job type (typography, drafts), how a request shows it (a header), the
suite strata that judge it, and where its jobs go while a canary rolls out. With
spec.onCapabilityFailure Pin, a canary that fails only a capability's strata is promoted for
everything else, and that capability's jobs stay on the previous stable model.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue, StringConstraints

from imagerollout.api.endpoint import Endpoint
from imagerollout.api.fields import DNS_LABEL, ApiModel, cel, quoted

# A rule name on the route and the fallback objects' names carry the capability name.
MAX_CAPABILITY_NAME = 20
FALLBACK_INFIX = "-fallback-"  # a pinned capability's fallback is <rollout>-fallback-<name>
HEADER_NAME = r"^[A-Za-z0-9][-A-Za-z0-9_.]*$"


class CapabilityTarget(StrEnum):
    CANARY_ROLLOUT = "canary-rollout"
    STABLE = "stable"
    SERVICE = "service"


class OnCapabilityFailure(StrEnum):
    ROLLBACK = "Rollback"
    PIN = "Pin"


class HeaderMatch(ApiModel):
    name: str = Field(
        description="Header name, such as x-image-job.",
        min_length=1,
        max_length=128,
        pattern=HEADER_NAME,
    )
    value: str = Field(description="Exact value, such as typography.", min_length=1, max_length=256)


class CapabilityMatch(ApiModel):
    headers: list[HeaderMatch] = Field(
        description="Every header must match (exactly) for a request to be this job type.",
        min_length=1,
        max_length=4,
    )


_SERVICE_RULES: list[JsonValue] = [
    cel(
        "self.target == 'service' ? has(self.service) : !has(self.service)",
        "service is set exactly when target is service",
        "'capability ' + "
        + quoted("self.name")
        + " + ': target ' + "
        + quoted("self.target")
        + " + (has(self.service) ? ' takes no service (only target service does)' : "
        "' needs service, the name of the Service that serves these jobs')",
        field_path=".service",
    ),
    cel(
        "self.target == 'service' || (has(self.strata) && size(self.strata) > 0)",
        "a capability that reaches the canary needs strata that judge it",
        "'capability ' + " + quoted("self.name") + " + ' (target ' + self.target + "
        "') needs strata: the suite strata that judge its jobs, such as typography'",
        field_path=".strata",
    ),
]


class Capability(ApiModel):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _SERVICE_RULES})
    name: str = Field(
        description="Job type, such as typography. Names the rule on the route "
        "(imagerollout-<name>) and the fallback objects (<rollout>-fallback-<name>).",
        min_length=1,
        max_length=MAX_CAPABILITY_NAME,
        pattern=DNS_LABEL,
    )
    match: CapabilityMatch = Field(description="How a request shows this job type.")
    strata: list[Annotated[str, StringConstraints(min_length=1, max_length=63)]] = Field(
        default_factory=list,
        max_length=16,
        description="Suite strata that judge this capability; the other strata judge the "
        "general promotion. Ignored with target service (those jobs never reach the canary).",
    )
    target: CapabilityTarget = Field(
        CapabilityTarget.CANARY_ROLLOUT,
        description="canary-rollout: the jobs follow the canary's weights. stable: they stay "
        "on the stable model while the canary rolls out. service: they go to a specialist "
        "Service (named by service), never to the canary.",
    )
    fallback_endpoint: Endpoint | None = Field(
        None,
        description="While this capability is pinned, its strata are judged against the model "
        "its jobs are on, so that only a canary as good as that model releases the pin: this "
        "URL (on the endpoint allowlist), else the fallback Service <rollout>-fallback-<name>. "
        "Set it when analysis.endpoints.baseline is set.",
    )
    service: str | None = Field(
        None,
        description="With target service: the Service in the rollout's namespace.",
        max_length=63,
        pattern=DNS_LABEL,
    )
    port: int | None = Field(
        None, description="Port of that Service; defaults to spec.service.port.", ge=1, le=65535
    )


_LISTING = "self.filter(d, has(d.strata) && s in d.strata)"  # the capabilities listing s
CAPABILITY_LIST_RULES: list[JsonValue] = [
    cel(
        "self.all(c, self.exists_one(d, d.name == c.name))",
        "capability names must be unique",
        "'capability names must be unique: %s used more than once'.format("
        "[self.filter(c, !self.exists_one(d, d.name == c.name)).map(c, c.name)])",
    ),
    cel(
        f"self.all(c, !has(c.strata) || c.strata.all(s, {_LISTING}.size() == 1))",
        "a stratum judges one capability at most",
        "'a stratum judges one capability at most, got strata %s'.format("
        "[self.filter(c, has(c.strata)).map(c, c.strata)])",
    ),
]


class BackendWeight(ApiModel):
    service: str
    weight: int


class CapabilityStatus(ApiModel):
    """Where one capability's jobs go now, and why."""

    name: str
    backends: list[BackendWeight] = Field(default_factory=list, description="Route weights.")
    model: str = Field("", description="The model (or specialist Service) serving the jobs.")
    reason: str = ""
    pinned: bool = False


class Pin(ApiModel):
    """A capability whose jobs stay on an earlier model after its strata failed a canary.

    While `revision` is still the stable revision the pin is provisional (the primary serves
    it); once the canary is promoted a fallback Deployment and Service serve it.
    """

    capability: str
    model: str
    revision: str
    why: str = Field(description="The failure, such as text/logos failed: canary 0.25 vs ...")
