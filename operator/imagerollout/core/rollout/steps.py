"""Step logic: setting a step's weight, and completing a step when its hold is over."""

from __future__ import annotations

from imagerollout.api.v1alpha1 import PauseCondition, RolloutSpec
from imagerollout.core import reasons as R
from imagerollout.core.durations import parse_duration, seconds_between
from imagerollout.core.observations import Observations
from imagerollout.core.rollout.actions import SetWeight
from imagerollout.core.rollout.draft import Draft


def set_weight(d: Draft, obs: Observations, weight: int, context: str) -> bool:
    """Ask for `weight` on the route; True when status records a new weight this time."""
    if d.route_weight(obs.route.canary_weight) != weight:
        d.act(SetWeight(weight))
    if d.status.canary_weight == weight:
        return False
    suffix = f" ({context})" if context else ""
    d.set(canary_weight=weight)
    d.event(R.TRAFFIC_WEIGHT_UPDATED, f"canary {weight}%, primary {100 - weight}%{suffix}")
    return True


def advance_if_done(spec: RolloutSpec, d: Draft, gates_allow: bool = True) -> bool:
    """Complete the current step when its hold is over; True when it completed."""
    status = d.status
    step = spec.steps[status.current_step_index or 0]
    if status.promote_step:
        _advance(spec, d, "on request")
        return True
    if status.pause_conditions:
        return False
    if step.pause is not None and step.pause.duration is None and not status.controller_pause:
        pause = PauseCondition(reason=R.CANARY_PAUSE_STEP, start_time=d.stamp)
        d.set(controller_pause=True, pause_conditions=[pause])
        return False
    if not _hold_over(spec, d) or not gates_allow:
        return False
    _advance(spec, d, "")
    return True


def _hold_over(spec: RolloutSpec, d: Draft) -> bool:
    status = d.status
    pause = spec.steps[status.current_step_index or 0].pause
    if pause is None or pause.duration is None:
        return True
    started = status.step_started_at or d.stamp
    return seconds_between(started, d.now) >= parse_duration(pause.duration).total_seconds()


def _advance(spec: RolloutSpec, d: Draft, how: str) -> None:
    status = d.status
    index = status.current_step_index or 0
    held = int(seconds_between(status.step_started_at or d.stamp, d.now))
    suffix = f", {how}" if how else ""
    d.event(
        R.STEP_COMPLETED,
        f"step {index + 1}/{len(spec.steps)} (canary {status.canary_weight}%) "
        f"completed after {held}s{suffix}",
    )
    d.set(
        current_step_index=index + 1,
        step_started_at=None,
        controller_pause=False,
        promote_step=False,
        pause_conditions=[],
    )
