"""What the operator saw in the cluster on one reconcile, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imagerollout.core.metrics.windows import MetricsReading
from imagerollout.core.quality.analysis import AnalysisState, StratumInfo


@dataclass(frozen=True)
class DeploymentView:
    revision: str
    model: str
    replicas: int
    ready: bool
    template: Mapping[str, Any] = field(default_factory=dict, compare=False)
    selector: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteView:
    canary_weight: int | None = None
    error: str | None = None
    # How the weight is really carried, when it is only approximated (the replica ratio).
    note: str | None = None
    # The router sets both Deployments' replicas itself (trafficRouting.replicas): the core
    # then leaves the canary's replica count alone.
    scales_pods: bool = False


@dataclass(frozen=True)
class Backend:
    service: str
    port: int
    weight: int


@dataclass(frozen=True)
class CapabilityRoute:
    """The rule that sends one capability's requests (those with `headers`) to `backends`."""

    name: str
    headers: tuple[tuple[str, str], ...]
    backends: tuple[Backend, ...]


@dataclass(frozen=True)
class Observations:
    target: DeploymentView | None
    primary: DeploymentView | None
    services_ready: bool
    route: RouteView
    # The quality gates' sampler: None when the rollout has no spec.analysis.
    analysis: AnalysisObservation | None = None
    # A production-traffic window read from the metric provider, when one was due.
    metrics: MetricsReading | None = None
    # The latest answer of each gate webhook in this attempt, by hook name.
    webhooks: Mapping[str, WebhookReply] = field(default_factory=dict)
    rollout: str = ""  # the rollout's name, which the Services' names derive from
    # The operator's capability rules on the route; None: the provider cannot route by header.
    capability_routes: tuple[CapabilityRoute, ...] | None = ()
    # Per pinned or configured capability: its fallback Deployment, if any.
    fallbacks: Mapping[str, DeploymentView | None] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookReply:
    attempt: str  # the attempt it was asked for (core/rollout/webhooks.py attempt())
    status: int | None  # None: no answer (refused, timed out) or not called (refused)
    error: str | None = None  # why it is not a 2xx
    refused: bool = False  # the URL is not on the operator's endpoint allowlist

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class AnalysisObservation:
    state: AnalysisState
    strata: tuple[StratumInfo, ...]
    evidence: str | None = None
    error: str | None = None  # the suite or an endpoint cannot be used
    # What the suite sends with every request (guidance_scale, ...), for the sampler lint.
    request_parameters: Mapping[str, object] = field(default_factory=dict)
