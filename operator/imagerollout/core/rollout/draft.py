"""A decision under construction: status updates, actions and events gathered in order."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from imagerollout.api.v1alpha1 import Phase, RolloutStatus
from imagerollout.core.durations import format_precise_time, format_time
from imagerollout.core.rollout.actions import Action, Decision, Event, ScaleCanary, SetWeight
from imagerollout.core.rollout.conditions import set_condition


class Draft:
    def __init__(self, status: RolloutStatus, now: datetime, generation: int | None) -> None:
        self.before = status
        self.now = now
        self.stamp = format_time(now)
        self.precise_stamp = format_precise_time(now)  # step starts: holds are timed from it
        self.generation = generation
        self.updates: dict[str, Any] = {"observed_generation": generation}
        self.actions: list[Action] = []
        self.events: list[Event] = []

    @property
    def status(self) -> RolloutStatus:
        """The status as it stands with the updates so far."""
        return self.before.model_copy(update=self.updates)

    def set(self, **updates: Any) -> None:
        self.updates.update(updates)

    def act(self, action: Action) -> None:
        self.actions.append(action)

    def route_weight(self, observed: int | None) -> int | None:
        """The canary weight the route will have once the queued actions ran."""
        queued = [a.canary_weight for a in self.actions if isinstance(a, SetWeight)]
        return queued[-1] if queued else observed

    def canary_replicas(self, observed: int) -> int:
        queued = [a.replicas for a in self.actions if isinstance(a, ScaleCanary)]
        return queued[-1] if queued else observed

    def event(
        self, reason: str, message: str, warning: bool = False, also: tuple[str, ...] = ()
    ) -> None:
        self.events.append(Event(reason, message, warning, also))

    def condition(self, type_: str, status: bool, reason: str, message: str = "") -> None:
        # Transition times compare with the status before this pass, not with the draft.
        self.updates["conditions"] = set_condition(
            list(self.status.conditions),
            type_,
            status,
            reason,
            message,
            self.stamp,
            self.generation,
            before=self.before.conditions,
        )

    def phase(self, phase: Phase, message: str) -> Decision:
        self.set(phase=phase, message=message)
        return self.done()

    def done(self) -> Decision:
        return Decision(self.status, tuple(self.actions), tuple(self.events))
