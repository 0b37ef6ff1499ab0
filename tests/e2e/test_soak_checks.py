"""The soak's checks on their own (no cluster): each kind of violation is caught."""

from __future__ import annotations

from tests.e2e.soak import Pair, Plan, problems, returns, settled, walk_problems

WALK = [0, 5, 25, 50, 100, 0]


def pairs(*canary: int) -> list[Pair]:
    return [(100 - c, c) for c in canary]


def test_a_walk_in_order_round_after_round_passes_and_repeats_are_fine() -> None:
    assert walk_problems("r", WALK, rounds=1) == []
    assert walk_problems("r", [0, 5, 5, 25, 25, 50, 100, 100, 0, 5, 25, 50, 100, 0], 2) == []


def test_a_skipped_step_or_a_step_back_is_caught() -> None:
    assert walk_problems("r", [0, 5, 50, 100, 0], 1) == ["r: 5 -> 50 skips 25"]
    assert walk_problems("r", [0, 5, 25, 50, 25, 50, 100, 0], 1) == ["r: 50 -> 25 goes back"]
    assert walk_problems("r", [0, 5, 0, 5, 25, 50, 100, 0], 1) == ["r: 5 -> 0 goes back"]


def test_back_to_0_early_only_once_per_abort() -> None:
    assert walk_problems("r", [0, 5, 25, 0, 5, 25, 50, 100, 0], 2, aborts=1) == []
    assert walk_problems("r", [0, 25, 0], 1, aborts=1) == ["r: 0 -> 25 skips 5"]
    twice = walk_problems("r", [0, 5, 0, 5, 0], 2, aborts=1)
    assert twice == ["r: 5 -> 0 goes back", "r: back at 0 1 times for 2 rounds: [0, 5, 0, 5, 0]"]


def test_an_unfinished_walk_is_stuck() -> None:
    assert walk_problems("r", [0, 5, 25], 1) == ["r: back at 0 0 times for 1 rounds: [0, 5, 25]"]
    plan = Plan(rounds={"r": 1})
    assert not settled(plan, {"r": pairs(0, 5, 25)}, {"r": "Progressing"})
    assert problems(plan, {"r": pairs(0, 5, 25)}, {"r": "Progressing"}) == [
        "r: stuck in Progressing, not Succeeded",
        "r: back at 0 0 times for 1 rounds: [0, 5, 25]",
    ]


def test_weights_that_do_not_sum_to_100_are_caught() -> None:
    plan = Plan(rounds={"r": 1})
    seen = [(100, 0), (95, 5), (75, 25), (75, 50), (0, 100), (100, 0)]
    assert problems(plan, {"r": seen}, {"r": "Succeeded"}) == ["r: 75 + 50 = 125"]


def test_an_aborted_rollout_may_end_degraded_or_succeeded_others_only_succeeded() -> None:
    plan = Plan(rounds={"a": 1, "b": 1}, aborts={"a": 1}, last_aborted={"a": True})
    walks = {"a": pairs(0, 5, 0), "b": pairs(*WALK)}
    assert problems(plan, walks, {"a": "Degraded", "b": "Succeeded"}) == []
    assert settled(plan, walks, {"a": "Succeeded", "b": "Succeeded"})
    assert problems(plan, walks, {"a": "Degraded", "b": "Degraded"}) == [
        "b: stuck in Degraded, not Succeeded"
    ]


def test_returns_counts_each_way_back_to_0() -> None:
    assert returns(pairs(0, 5, 0, 0, 5, 25, 50, 100, 0)) == 2
    assert returns([]) == 0
