"""When a rollout must be reconciled again although nothing it depends on changed.

Changes to the rollout, its Deployments, Services and route wake it through the watches;
what only time brings is computed here: the end of a step's pause, the next metric window,
the progress deadline, the next look at the quality-gate sampler, and the next look at a
routing error whose object no informer watches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from imagerollout.api.v1alpha1 import Phase, RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.durations import parse_duration, parse_time
from imagerollout.core.metrics.gating import window_opened
from imagerollout.core.rollout.conditions import find

# The sampler judges pairs, and gate webhooks answer, on other threads; while they may, their
# state is read this often.
SAMPLER_POLL = timedelta(seconds=1)
# Deadlines compare with ">" on parsed times; waking a little after makes the first pass count.
MARGIN = timedelta(milliseconds=5)
RUNNING = (Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING)
# A routing error may be fixed in an object the operator reads live rather than watches (an
# Istio VirtualService, a DestinationRule, an InferencePool whose CRD had no informer at
# start): look again this often. With every such object watched, its change wakes the rollout.
ROUTING_ERROR_POLL = timedelta(seconds=2)


def next_wakeup(
    spec: RolloutSpec, status: RolloutStatus, now: datetime, routing_watched: bool = False
) -> datetime | None:
    """The earliest moment a pass may decide something new by time alone; None: never."""
    if routing_error(status) and not routing_watched:
        return now + ROUTING_ERROR_POLL
    if status.phase not in RUNNING:
        return None
    times = [t for t in (_pause_end(spec, status), _deadline(spec, status)) if t is not None]
    window = window_opened(spec, status)
    if window is not None and spec.metrics is not None:
        times.append(window + parse_duration(spec.metrics.interval))
    if spec.analysis is not None and status.phase != Phase.PROMOTING and not status.abort:
        times.append(now + SAMPLER_POLL)
    if spec.webhooks:
        times.append(now + SAMPLER_POLL)
    if not times:
        return None
    return max(min(times) + MARGIN, now)


def _pause_end(spec: RolloutSpec, status: RolloutStatus) -> datetime | None:
    index, started = status.current_step_index, status.step_started_at
    if index is None or index >= len(spec.steps) or started is None or status.pause_conditions:
        return None
    pause = spec.steps[index].pause
    if pause is None or pause.duration is None:
        return None
    return parse_time(started) + parse_duration(pause.duration)


def _deadline(spec: RolloutSpec, status: RolloutStatus) -> datetime | None:
    if status.blocked_since is None:
        return None
    return parse_time(status.blocked_since) + parse_duration(spec.progress_deadline)


def routing_error(status: RolloutStatus) -> bool:
    invalid = find(status.conditions, R.INVALID_SPEC)
    return (
        invalid is not None
        and invalid.status == "True"
        and invalid.reason == R.TRAFFIC_ROUTING_ERROR
    )
