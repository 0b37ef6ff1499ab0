"""The lease decisions, table by table: create, renew, wait, take over, release."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from imagerollout.core.leader import (
    LeaseRecord,
    Observation,
    Timing,
    Verb,
    expired,
    next_move,
    observe,
    released,
    still_leading,
    wait_seconds,
)

T = Timing.for_duration(15)
WALL = datetime(2026, 12, 2, 12, 0, 0, 123456, tzinfo=UTC)
HELD = LeaseRecord("other", 15, WALL, WALL, 3)


def test_client_go_proportions() -> None:
    assert (T.duration_s, T.renew_deadline_s, T.retry_s) == (15, 10, 2)
    assert Timing.for_duration(4).renew_deadline_s < 4
    with pytest.raises(ValueError, match="at least 2 s, got 1"):
        Timing.for_duration(1)


def test_no_lease_is_created_with_us_as_holder() -> None:
    move = next_move("me", None, None, 100.0, WALL, T)
    assert move.verb is Verb.CREATE
    assert move.record == LeaseRecord("me", 15, WALL, WALL, 0)


@pytest.mark.parametrize(
    ("seen_at", "now", "verb"),
    [
        (100.0, 100.0, Verb.WAIT),  # just seen
        (100.0, 114.9, Verb.WAIT),  # unchanged, but not for the whole duration
        (100.0, 115.0, Verb.UPDATE),  # unchanged for the duration: take it
        (100.0, 500.0, Verb.UPDATE),
    ],
)
def test_a_lease_held_by_another_expires_on_our_clock(
    seen_at: float, now: float, verb: Verb
) -> None:
    last = Observation(HELD, seen_at)
    move = next_move("me", HELD, last, now, WALL, T)
    assert move.verb is verb
    if verb is Verb.UPDATE:
        assert move.record == LeaseRecord("me", 15, WALL, WALL, 4)  # one more transition


def test_a_renewal_restarts_the_expiry_clock() -> None:
    last = Observation(HELD, 100.0)
    renewed = replace(HELD, renewed_at=WALL.replace(second=5))
    move = next_move("me", renewed, last, 114.0, WALL, T)
    assert move.verb is Verb.WAIT
    assert move.observation == Observation(renewed, 114.0)
    assert next_move("me", renewed, move.observation, 128.9, WALL, T).verb is Verb.WAIT
    assert next_move("me", renewed, move.observation, 129.0, WALL, T).verb is Verb.UPDATE


def test_a_skewed_wall_clock_in_the_record_does_not_matter() -> None:
    stale_looking = replace(HELD, renewed_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert next_move("me", stale_looking, None, 100.0, WALL, T).verb is Verb.WAIT


def test_the_holder_renews_keeping_acquire_time_and_transitions() -> None:
    ours = LeaseRecord("me", 4, WALL, WALL, 2)
    later = WALL.replace(second=9)
    move = next_move("me", ours, None, 100.0, later, T)
    assert move.verb is Verb.UPDATE
    assert move.record == LeaseRecord("me", 15, WALL, later, 2)


def test_a_released_lease_is_taken_at_once() -> None:
    free = released(HELD, WALL)
    assert free.holder == ""
    assert free.duration_s == 1
    assert next_move("me", free, None, 100.0, WALL, T).verb is Verb.UPDATE
    assert expired(Observation(free, 100.0), 100.0)


@pytest.mark.parametrize(
    ("renewed", "now", "leading"),
    [(None, 0.0, False), (100.0, 100.0, True), (100.0, 109.9, True), (100.0, 110.0, False)],
)
def test_a_leader_stops_acting_at_the_renew_deadline(
    renewed: float | None, now: float, leading: bool
) -> None:
    assert still_leading(renewed, now, T) is leading


def test_the_leader_stops_before_a_standby_may_take_over() -> None:
    for duration in (2, 4, 15, 60):
        timing = Timing.for_duration(duration)
        assert timing.renew_deadline_s < timing.duration_s
        assert timing.retry_s < timing.renew_deadline_s


def test_waits_renew_every_retry_and_standby_wakes_at_expiry() -> None:
    renew = next_move("me", LeaseRecord("me", 15, WALL, WALL), None, 0.0, WALL, T)
    assert wait_seconds(renew, 0.0, T) == T.retry_s
    wait = next_move("me", HELD, Observation(HELD, 100.0), 114.5, WALL, T)
    assert wait_seconds(wait, 114.5, T) == pytest.approx(0.5)


def test_observe_keeps_the_first_sighting() -> None:
    first = observe(None, HELD, 1.0)
    assert first == Observation(HELD, 1.0)
    assert observe(first, HELD, 9.0) is first
    assert observe(first, None, 9.0) is None
