"""Step logic: setting a step's weight, and completing a step when its hold is over."""

from __future__ import annotations

from imagerollout.api.v1alpha1 import PauseCondition, RolloutSpec
from imagerollout.core import reasons as R
from imagerollout.core.durations import parse_duration, seconds_between
from imagerollout.core.observations import Observations
from imagerollout.core.rollout.actions import SetWeight
from imagerollout.core.rollout.draft import Draft


def set_weight(
    d: Draft, obs: Observations, weight: int, context: str, completed: str | None = None
) -> bool:
    """Ask for `weight` on the route; True when status records a new weight this time.

    `completed` (the step this pass completed) joins the weight's event: one event per step
    change.
    """
    if d.route_weight(obs.route.canary_weight) != weight:
        d.act(SetWeight(weight))
    if d.status.canary_weight == weight:
        return False
    suffix = f" ({context})" if context else ""
    after = f"; {completed}" if completed else ""
    d.set(canary_weight=weight)
    message = f"canary {weight}%, primary {100 - weight}%{suffix}{after}"
    d.event(R.TRAFFIC_WEIGHT_UPDATED, message, also=(R.STEP_COMPLETED,) if completed else ())
    return True


def route_ahead(spec: RolloutSpec, d: Draft, obs: Observations) -> bool:
    """The route already has the next step's weight: a pass completed this step and set it,
    and its status write was lost. The step stays completed, so the route never moves back."""
    index = d.status.current_step_index or 0
    following = spec.steps[index + 1].weight if index + 1 < len(spec.steps) else None
    return following is not None and obs.route.canary_weight == following


def advance_if_done(
    spec: RolloutSpec, d: Draft, gates_allow: bool = True, found_done: bool = False
) -> str | None:
    """Complete the current step when its hold is over (or it was `found_done`); the message
    of its completion when it completed (the caller posts it)."""
    status = d.status
    step = spec.steps[status.current_step_index or 0]
    if status.promote_step:
        return _advance(spec, d, "on request")
    if found_done:
        manual = [p for p in status.pause_conditions if p.reason != R.CANARY_PAUSE_STEP]
        completed = _advance(spec, d, "")
        d.set(pause_conditions=manual)  # a user's pause still holds the next step
        return completed
    if status.pause_conditions:
        return None
    if step.pause is not None and step.pause.duration is None and not status.controller_pause:
        pause = PauseCondition(reason=R.CANARY_PAUSE_STEP, start_time=d.stamp)
        d.set(controller_pause=True, pause_conditions=[pause])
        return None
    if not _hold_over(spec, d) or not gates_allow:
        return None
    return _advance(spec, d, "")


def _hold_over(spec: RolloutSpec, d: Draft) -> bool:
    status = d.status
    pause = spec.steps[status.current_step_index or 0].pause
    if pause is None or pause.duration is None:
        return True
    started = status.step_started_at or d.stamp
    return seconds_between(started, d.now) >= parse_duration(pause.duration).total_seconds()


def _advance(spec: RolloutSpec, d: Draft, how: str) -> str:
    status = d.status
    index = status.current_step_index or 0
    held = int(seconds_between(status.step_started_at or d.stamp, d.now))
    suffix = f", {how}" if how else ""
    d.set(
        current_step_index=index + 1,
        step_started_at=None,
        controller_pause=False,
        promote_step=False,
        pause_conditions=[],
    )
    return (
        f"step {index + 1}/{len(spec.steps)} (canary {status.canary_weight}%) "
        f"completed after {held}s{suffix}"
    )
