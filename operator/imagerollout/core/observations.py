"""What the operator saw in the cluster on one reconcile, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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


@dataclass(frozen=True)
class Observations:
    target: DeploymentView | None
    primary: DeploymentView | None
    services_ready: bool
    route: RouteView
    # Seam for the quality gates: None means the step has no analysis to wait for.
    analysis_passed: bool | None = None
