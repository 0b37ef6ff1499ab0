"""The betting tests of wsr.py: valid at any stopping time, quick when the spread is small."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from imagerollout.core.judge.wsr import BettingState, new_state

ALPHA = 0.05


def walk(
    draw: random.Random, clip: float, margin: float, mean: float, spread: float, n: int
) -> Iterator[BettingState]:
    """n pairs of x = mean +- spread, the state after each."""
    state = new_state(clip, margin)
    for _ in range(n):
        state = state.add(mean + draw.choice((-spread, spread)))
        yield state


def test_identical_arms_pass_within_a_dozen_pairs_at_a_clip_of_three_margins() -> None:
    state = new_state(1.5, -0.5)
    while not state.rejects_up(ALPHA) and state.n < 40:
        state = state.add(0.0)
    assert state.n <= 12
    assert not state.rejects_down(ALPHA)


def test_a_difference_far_beyond_the_margin_fails_within_twenty_pairs() -> None:
    state = new_state(1.5, -0.5)
    while not state.rejects_down(0.005) and state.n < 60:
        state = state.add(-1.45)
    assert state.n <= 20


@pytest.mark.parametrize("test", ["up", "down"])
def test_at_the_margin_each_test_rejects_at_most_alpha_of_the_time(test: str) -> None:
    # E[x] equals the margin: both nulls hold. Checked after every pair, for 200 pairs.
    draw = random.Random(7)
    runs = 500
    rejected = 0
    for _ in range(runs):
        check = BettingState.rejects_up if test == "up" else BettingState.rejects_down
        rejected += any(check(s, ALPHA) for s in walk(draw, 1.5, -0.5, -0.5, 0.4, 200))
    limit = ALPHA + 3 * (ALPHA * (1 - ALPHA) / runs) ** 0.5
    assert rejected / runs <= limit


def test_the_harness_sees_a_true_difference_pass() -> None:
    # The same harness with E[x] above the margin: Pass is frequent, so the check above can fail.
    draw = random.Random(8)
    runs = 100
    passed = sum(
        any(s.rejects_up(ALPHA) for s in walk(draw, 1.5, -0.5, -0.2, 0.4, 200)) for _ in range(runs)
    )
    assert passed / runs > 0.5


def test_bounds_cover_the_mean_and_agree_with_the_verdicts() -> None:
    draw = random.Random(3)
    misses = 0
    for _ in range(200):
        for state in walk(draw, 1.0, -0.3, 0.1, 0.5, 80):
            lower, upper = state.bounds(ALPHA, ALPHA)
            misses += not lower <= 0.1 <= upper
            assert lower <= upper
            if state.rejects_up(ALPHA):
                assert lower >= state.margin
            if state.rejects_down(ALPHA):
                assert upper <= state.margin
    assert misses / (200 * 80) <= 2 * ALPHA


def test_state_round_trips_through_json() -> None:
    state = new_state(0.9, -0.3)
    for x in (0.1, -0.2, 0.05, 2.0):
        state = state.add(x, baseline=1.0, canary=1.0 + x)
    again = BettingState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    assert again.add(0.3) == state.add(0.3)


def test_values_are_clipped_and_must_be_finite() -> None:
    assert new_state(1.0, -0.5).add(50.0).mean == 1.0
    with pytest.raises(ValueError, match="finite"):
        new_state(1.0, -0.5).add(float("nan"))
    with pytest.raises(ValueError, match="margin"):
        new_state(1.0, -1.0)
