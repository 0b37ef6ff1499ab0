"""A tiny in-memory cluster for multi-call runs of decide(): pure Python, no Kubernetes.

Actions change the observed data the way the reconciler's apply() would; a Deployment
that an action (or the user) changed is not ready on the call it changed in and becomes
ready on the next call. Every weight written to the route is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from imagerollout.api.v1alpha1 import Phase, RolloutSpec, RolloutStatus
from imagerollout.core.observations import DeploymentView, Observations, RouteView
from imagerollout.core.rollout.actions import (
    Action,
    Decision,
    EnsurePrimary,
    EnsureServices,
    Event,
    ScaleCanary,
    SetWeight,
)
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.revision import template_model, template_revision
from tests.core.builders import NOW, PRIMARY_SELECTOR, SELECTOR, template


@dataclass
class FakeDeployment:
    template: dict[str, Any]
    revision: str
    replicas: int
    ready_from: int  # the first call on which the Deployment is observed ready
    selector: dict[str, str]

    def view(self, call: int) -> DeploymentView:
        return DeploymentView(
            revision=self.revision,
            model=template_model(self.template),
            replicas=self.replicas,
            ready=call >= self.ready_from,
            template=self.template,
            selector=self.selector,
        )


@dataclass
class FakeCluster:
    target: FakeDeployment
    primary: FakeDeployment | None = None
    services: bool = False
    route: int = 0
    call: int = 0
    route_history: list[int] = field(default_factory=list)
    noop_weight_writes: int = 0
    stuck_target: bool = False  # the canary's pods never become ready

    @classmethod
    def with_target(cls, image: str, replicas: int = 2) -> FakeCluster:
        tpl = template(image)
        return cls(FakeDeployment(tpl, template_revision(tpl), replicas, 0, dict(SELECTOR)))

    def observe(self) -> Observations:
        return Observations(
            target=self.target.view(self.call),
            primary=None if self.primary is None else self.primary.view(self.call),
            services_ready=self.services,
            route=RouteView(canary_weight=self.route),
        )

    def update_target(self, image: str) -> None:
        """The user changes the target's image (replicas stay as they are)."""
        self.target.template = template(image)
        self.target.revision = template_revision(self.target.template)
        self._rolling(self.target)

    def apply(self, actions: Sequence[Action]) -> None:
        for action in actions:
            match action:
                case SetWeight(canary_weight=weight):
                    if weight == self.route:
                        self.noop_weight_writes += 1
                    else:
                        self.route_history.append(weight)
                    self.route = weight
                case ScaleCanary(replicas=replicas):
                    if replicas != self.target.replicas:
                        self.target.replicas = replicas
                        self._rolling(self.target)
                case EnsurePrimary():
                    self._ensure_primary(action)
                case EnsureServices():
                    self.services = True

    def _ensure_primary(self, action: EnsurePrimary) -> None:
        assert template_revision(action.template) == action.revision, (
            "EnsurePrimary carries a template of another revision"
        )
        tpl = dict(action.template)
        if self.primary is None:
            self.primary = FakeDeployment(
                tpl, action.revision, action.replicas, self.call + 1, dict(PRIMARY_SELECTOR)
            )
        elif self.primary.revision != action.revision:
            # Like reconciler._ensure_primary: the template changes, replicas do not.
            self.primary.template = tpl
            self.primary.revision = action.revision
            self._rolling(self.primary)

    def _rolling(self, deployment: FakeDeployment) -> None:
        never = self.stuck_target and deployment is self.target
        deployment.ready_from = 10**9 if never else self.call + 1


def never_crash(call: int, decision: Decision) -> bool:
    return False


@dataclass
class Run:
    """Drives decide() against a FakeCluster the way reconciler.reconcile does."""

    cluster: FakeCluster
    spec: RolloutSpec
    status: RolloutStatus = field(default_factory=RolloutStatus)
    now: datetime = NOW
    tick: timedelta = timedelta(seconds=10)
    crash: Callable[[int, Decision], bool] = never_crash
    events: list[Event] = field(default_factory=list)
    committed: list[RolloutStatus] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def step(self) -> Decision:
        """One reconcile: observe, decide, apply the actions, then write status and events.

        When crash(call, decision) is true the status write is lost (and with it the events,
        posted after the write) but the actions were applied: the next call decides again
        from the old status and the new observations.
        """
        decision = decide(self.spec, self.status, self.cluster.observe(), self.now, 1)
        self.decisions.append(decision)
        self.cluster.apply(decision.actions)
        if not self.crash(self.cluster.call, decision):
            self.status = decision.status
            self.committed.append(decision.status)
            self.events.extend(decision.events)
        self.cluster.call += 1
        self.now += self.tick
        return decision

    def until(self, phase: Phase, max_calls: int = 500) -> RolloutStatus:
        for _ in range(max_calls):
            self.step()
            if self.status.phase == phase:
                return self.status
        raise AssertionError(f"no {phase} after {max_calls} calls; status {self.status!r}")

    def reasons(self) -> list[str]:
        return [event.reason for event in self.events]
