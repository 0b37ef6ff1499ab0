from __future__ import annotations

from datetime import timedelta

from imagerollout.api.v1alpha1 import Phase
from imagerollout.core import reasons as R
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.wakeup import MARGIN, ROUTING_ERROR_POLL, SAMPLER_POLL, next_wakeup
from tests.core.builders import (
    CANARY_IMAGE,
    NOW,
    SPEC,
    ago,
    at,
    cond,
    deployment,
    initialized,
    make_obs,
    make_spec,
    manual_pause,
    paused,
    primary,
    rolling,
    step_stamp,
)


def test_a_held_step_wakes_at_the_end_of_its_pause() -> None:
    status = rolling(0, 5, step_started_at=step_stamp(at(-12.25)))
    assert next_wakeup(SPEC, status, NOW) == at(30 - 12.25) + MARGIN


def test_a_wait_on_pods_wakes_at_the_progress_deadline() -> None:
    spec = make_spec(progress_deadline="1m")
    status = rolling(0, 0, blocked_since=ago(20))
    assert next_wakeup(spec, status, NOW) == at(40) + MARGIN


def test_the_earliest_of_pause_end_and_deadline_wins() -> None:
    status = rolling(0, 5, step_started_at=ago(25), blocked_since=ago(1))
    assert next_wakeup(SPEC, status, NOW) == at(5) + MARGIN


def test_an_overdue_deadline_wakes_now() -> None:
    status = rolling(0, 5, step_started_at=ago(300))
    assert next_wakeup(SPEC, status, NOW) == NOW


def test_nothing_to_wait_for_by_time() -> None:
    assert next_wakeup(SPEC, initialized(), NOW) is None
    manual = rolling(0, 5, step_started_at=ago(5), pause_conditions=[manual_pause()])
    assert next_wakeup(SPEC, manual, NOW) is None, "a manual pause waits for the user"
    indefinite = make_spec([paused(5), paused(100)])
    assert next_wakeup(indefinite, rolling(0, 5, step_started_at=ago(5)), NOW) is None
    done = rolling(0, 5, phase=Phase.SUCCEEDED, step_started_at=ago(5))
    assert next_wakeup(SPEC, done, NOW) is None


def test_decide_returns_the_wakeup_of_the_status_it_decided() -> None:
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=5)
    decision = decide(SPEC, rolling(0, 5, step_started_at=ago(30)), obs, NOW)
    # The step completed and the next one (held 30 s) started now.
    assert decision.status.current_step_index == 1
    assert decision.wake_at == NOW + timedelta(seconds=30) + MARGIN
    assert SAMPLER_POLL > MARGIN


def test_a_routing_error_is_looked_at_again_whatever_the_phase() -> None:
    # The broken object may be one the operator reads live (a VirtualService), not watches.
    broken = cond(R.INVALID_SPEC, True, R.TRAFFIC_ROUTING_ERROR)
    for before in (initialized(), rolling(0, 5, step_started_at=ago(1))):
        kept = [c for c in before.conditions if c.type != R.INVALID_SPEC]
        status = before.model_copy(update={"conditions": [*kept, broken]})
        assert next_wakeup(SPEC, status, NOW) == NOW + ROUTING_ERROR_POLL


def test_a_watched_routing_error_wakes_only_at_its_deadlines() -> None:
    # Every object the provider reads has an informer: the fix wakes the rollout, no poll.
    broken = cond(R.INVALID_SPEC, True, R.TRAFFIC_ROUTING_ERROR)
    spec = make_spec(progress_deadline="1m")
    blocked = rolling(0, 5, blocked_since=ago(20))
    kept = [c for c in blocked.conditions if c.type != R.INVALID_SPEC]
    status = blocked.model_copy(update={"conditions": [*kept, broken]})
    assert next_wakeup(spec, status, NOW, routing_watched=True) == at(40) + MARGIN
    idle = initialized().model_copy(update={"conditions": [broken]})
    assert next_wakeup(SPEC, idle, NOW, routing_watched=True) is None
