"""What the decision core asks the operator to do. Every action is idempotent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imagerollout.api.v1alpha1 import RolloutStatus


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


Action = EnsurePrimary | EnsureServices | ScaleCanary | SetWeight


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
