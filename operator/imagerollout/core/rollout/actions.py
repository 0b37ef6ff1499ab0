"""What the decision core asks the operator to do. Every action is idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from imagerollout.api.v1alpha1 import RolloutStatus
from imagerollout.core.observations import CapabilityRoute


@dataclass(frozen=True)
class EnsurePrimary:
    """Make <name>-primary run this template at this revision."""

    template: Mapping[str, Any] = field(compare=False)
    revision: str
    replicas: int


@dataclass(frozen=True)
class EnsureServices:
    primary_selector: Mapping[str, str]
    canary_selector: Mapping[str, str]


@dataclass(frozen=True)
class ScaleCanary:
    replicas: int


@dataclass(frozen=True)
class SetWeight:
    canary_weight: int


@dataclass(frozen=True)
class CallWebhook:
    """Call this gate webhook (again) unless a call is in flight or was made just now; its
    answer is observed on a later pass, so a slow receiver never holds the reconcile loop."""

    hook: str
    attempt: str  # the answer counts for this attempt only
    body: Mapping[str, Any] = field(compare=False)


@dataclass(frozen=True)
class RouteCapabilities:
    """Make the operator's capability rules on the route exactly these, in this order."""

    routes: tuple[CapabilityRoute, ...]


@dataclass(frozen=True)
class EnsureFallback:
    """Run <name>-fallback-<capability> (Deployment and Service) at this template."""

    capability: str
    template: Mapping[str, Any] = field(compare=False)
    revision: str
    replicas: int


@dataclass(frozen=True)
class RemoveFallback:
    capability: str


Action = (
    EnsurePrimary
    | EnsureServices
    | ScaleCanary
    | SetWeight
    | RouteCapabilities
    | EnsureFallback
    | RemoveFallback
    | CallWebhook
)


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    warning: bool = False
    # Reasons this event also stands for: a step change is one TrafficWeightUpdated event
    # that also reports the StepCompleted (notifications fire on either).
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    # When to decide again if nothing the rollout depends on changes (None: not by time).
    wake_at: datetime | None = None
