"""The paired binary gate: tables, properties and simulations (checked after every pair)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerollout.core.judge import BinaryStats, Verdict, binary_gate, binary_verdict, sprt
from imagerollout.core.judge.betting import SHARES
from imagerollout.core.judge.binary import fast_bets

RANK = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}
ALPHAS = st.sampled_from([0.01, 0.05])
DROPS = st.sampled_from([0.0, 0.03, 0.05])


def counts(both: int, baseline_only: int, canary_only: int, neither: int) -> BinaryStats:
    n = both + baseline_only + canary_only + neither
    return BinaryStats(n, both, baseline_only, canary_only, neither)


stats_strategy = st.builds(
    counts, st.integers(0, 300), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)
)


def first_pass_with_ties_only(max_drop: float, alpha: float) -> int:
    for n in range(1, 2000):
        if binary_verdict(counts(n, 0, 0, 0), max_drop, alpha, 0) is Verdict.PASS:
            return n
    raise AssertionError("identical arms never passed")


# --- tables -----------------------------------------------------------------------------


def test_no_pairs_is_inconclusive_with_finite_json_numbers() -> None:
    result = binary_gate("typography/logos", BinaryStats(), 0.03, 0.05, 0)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert (result.samples, result.lower, result.upper, result.effect) == (0, -1.0, 1.0, 0.0)
    json.dumps(dataclasses.asdict(result), allow_nan=False)


def test_the_incident_fails_with_numbers_in_the_reason() -> None:
    result = binary_gate("typography/logos", counts(15, 12, 1, 0), 0.03, 0.05, 10)
    assert result.verdict is Verdict.FAIL
    assert result.reason.startswith("canary 0.57 vs baseline 0.96, Fail after 28 pairs")
    assert result.effect == pytest.approx(-11 / 28)
    assert result.lower <= result.effect <= result.upper


@pytest.mark.parametrize(
    ("stats", "min_samples", "expected"),
    [
        pytest.param(counts(5, 20, 0, 0), 26, Verdict.INCONCLUSIVE, id="fail-held-back"),
        pytest.param(counts(5, 20, 0, 0), 25, Verdict.FAIL, id="fail-at-min"),
        pytest.param(counts(300, 0, 0, 0), 301, Verdict.INCONCLUSIVE, id="pass-held-back"),
        pytest.param(counts(300, 0, 0, 0), 300, Verdict.PASS, id="pass-at-min"),
    ],
)
def test_min_samples(stats: BinaryStats, min_samples: int, expected: Verdict) -> None:
    assert binary_gate("g", stats, 0.03, 0.05, min_samples).verdict is expected


@pytest.mark.parametrize("max_drop", [0.03, 0.05])
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_identical_arms_pass_within_a_few_hundred_pairs(max_drop: float, alpha: float) -> None:
    # capital of ties only is between (1/K) (1 - m)^-n and (1 - m)^-n
    per_pair = -math.log1p(-max_drop)
    n = first_pass_with_ties_only(max_drop, alpha)
    assert math.log(1 / alpha) / per_pair <= n <= math.log(len(SHARES) / alpha) / per_pair + 1
    assert n <= 300


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"alpha": 0.0}, "alpha", id="alpha-zero"),
        pytest.param({"alpha": 1.0}, "alpha", id="alpha-one"),
        pytest.param({"max_drop": 1.0}, "max_drop", id="drop-one"),
        pytest.param({"min_samples": -1}, "min_samples", id="negative-min"),
        pytest.param({"design_drop": 0.0}, "design_drop", id="design-zero"),
        pytest.param({"design_baseline": 1.0}, "design_baseline", id="design-baseline"),
        pytest.param({"stats": BinaryStats(n=3, both=1)}, "inconsistent", id="bad-counts"),
    ],
)
def test_invalid_input_is_rejected(kwargs: dict[str, object], error: str) -> None:
    args: dict[str, object] = {
        "gate": "g",
        "stats": BinaryStats(),
        "max_drop": 0.03,
        "alpha": 0.05,
        "min_samples": 0,
    }
    with pytest.raises(ValueError, match=error):
        binary_gate(**{**args, **kwargs})  # type: ignore[arg-type]


def test_design_families() -> None:
    assert len(fast_bets(0.03, 0.28, 0.9)) == 1  # a named design is used alone
    mixed = fast_bets(0.03, None, 0.9)
    assert [w for _, w in mixed] == [0.8, 0.2]
    assert mixed[1][0] == pytest.approx(sprt.design_lambda(0.06, 0.9))
    assert len(fast_bets(0.1, None, 0.9)) == 1  # twice the tolerance is already a large drop


# --- properties ---------------------------------------------------------------------------


@settings(deadline=None)
@given(stats_strategy, DROPS, ALPHAS)
def test_result_is_consistent(stats: BinaryStats, max_drop: float, alpha: float) -> None:
    result = binary_gate("g", stats, max_drop, alpha, 0)
    assert result.verdict is binary_verdict(stats, max_drop, alpha, 0)
    assert -1.0 <= result.lower <= result.effect <= result.upper <= 1.0
    assert result.effect == pytest.approx(result.canary - result.baseline)
    if result.verdict is Verdict.PASS:
        assert result.lower >= -max_drop - 1e-6
    json.dumps(dataclasses.asdict(result), allow_nan=False)


@settings(deadline=None)
@given(stats_strategy, DROPS, ALPHAS)
def test_a_canary_winning_as_often_as_losing_never_fails(
    stats: BinaryStats, max_drop: float, alpha: float
) -> None:
    if stats.canary_only >= stats.baseline_only:
        assert binary_verdict(stats, max_drop, alpha, 0) is not Verdict.FAIL


@settings(deadline=None)
@given(stats_strategy, DROPS, ALPHAS, st.booleans())
def test_more_canary_failures_never_improve_the_verdict(
    stats: BinaryStats, max_drop: float, alpha: float, from_tie: bool
) -> None:
    if from_tie and stats.both:  # both -> baseline only
        worse = dataclasses.replace(
            stats, both=stats.both - 1, baseline_only=stats.baseline_only + 1
        )
    elif stats.canary_only:  # canary only -> neither
        worse = dataclasses.replace(
            stats, canary_only=stats.canary_only - 1, neither=stats.neither + 1
        )
    else:
        return
    before = binary_verdict(stats, max_drop, alpha, 0)
    assert RANK[binary_verdict(worse, max_drop, alpha, 0)] <= RANK[before]


@settings(deadline=None)
@given(stats_strategy, DROPS, st.sampled_from([(True, True), (False, False), (False, True)]))
def test_only_a_baseline_only_pair_can_start_a_fail(
    stats: BinaryStats, max_drop: float, pair: tuple[bool, bool]
) -> None:
    """The simulations below rely on this: Fail can begin only after a baseline-only pair."""
    if binary_verdict(stats, max_drop, 0.05, 0) is not Verdict.FAIL:
        assert binary_verdict(stats.add(*pair), max_drop, 0.05, 0) is not Verdict.FAIL


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60), st.randoms())
def test_adding_pairs_is_order_free(pairs: list[tuple[bool, bool]], rnd: object) -> None:
    shuffled = list(pairs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    forward, backward = BinaryStats(), BinaryStats()
    for b, c in pairs:
        forward = forward.add(b, c)
    for b, c in shuffled:
        backward = backward.add(b, c)
    assert forward == backward
    assert forward.n == len(pairs)


# --- simulations --------------------------------------------------------------------------


def ever_fails(
    base: np.ndarray, can: np.ndarray, max_drop: float, alpha: float, design: float | None
) -> tuple[bool, int]:
    """Whether (and when) the gate ever says Fail, checked after every pair.

    Fail can only begin after a baseline-only pair (property above), so only those pairs
    need a check; the answer is the same as checking after every pair.
    """
    kinds = (base.astype(int) * 2 + can.astype(int)).tolist()
    tally = [0, 0, 0, 0]  # neither, canary only, baseline only, both
    for n, kind in enumerate(kinds, start=1):
        tally[kind] += 1
        if kind != 2:
            continue
        stats = BinaryStats(n, tally[3], tally[2], tally[1], tally[0])
        if binary_verdict(stats, max_drop, alpha, 1, design) is Verdict.FAIL:
            return True, n
    return False, len(kinds)


def arms(seed: int, p0: float, p1: float, runs: int, pairs: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((runs, pairs)) < p0, rng.random((runs, pairs)) < p1


def aa_false_fail_rate(seed: int) -> float:
    base, can = arms(seed, 0.89, 0.89, 2000, 500)
    fails = [ever_fails(b, c, 0.03, 0.05, None)[0] for b, c in zip(base, can, strict=True)]
    return float(np.mean(fails))


AA_LIMIT = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 2000)  # alpha + 3 SE of 2000 runs = 0.0646


def test_aa_false_rollbacks_stay_below_alpha_checked_after_every_pair() -> None:
    """A/A at 0.89, independent arms, 500 pairs, default designs, alpha 0.05, 2000 runs.

    The guarantee is P(ever Fail) <= alpha; a Monte-Carlo estimate of 2000 runs has SE 0.0049,
    so the test allows alpha + 3 SE (a correct judge exceeds it with probability ~0.1%).
    """
    assert aa_false_fail_rate(seed=2024) <= AA_LIMIT


def test_the_aa_simulation_catches_a_judge_that_peeks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same harness must fail for a threshold 1.2 nats too low (a mis-calibrated SPRT)."""
    monkeypatch.setattr(sprt, "fail_threshold", lambda bets, alpha: math.log(1 / alpha) - 1.2)
    assert aa_false_fail_rate(seed=2024) > AA_LIMIT


@pytest.mark.parametrize(
    ("design", "mean_limit", "p80"),
    [pytest.param(0.28, 29.6, 41, id="design-0.28"), pytest.param(None, 32.4, 45, id="default")],
)
def test_power_at_the_design_effect(design: float | None, mean_limit: float, p80: int) -> None:
    """0.89 -> 0.61, alpha 0.05, 1000 runs: every run fails; mean and 80th percentile of the
    pairs needed as stated in docs/judge.md (bench: 29.6 / 41 and 32.4 / 45), within 3 SE."""
    base, can = arms(7, 0.89, 0.61, 1000, 400)
    results = [ever_fails(b, c, 0.03, 0.05, design) for b, c in zip(base, can, strict=True)]
    assert all(failed for failed, _ in results)
    needed = np.array([n for _, n in results])
    assert needed.mean() <= mean_limit + 3 * needed.std() / math.sqrt(needed.size)
    assert np.mean(needed <= p80) >= 0.8 - 3 * math.sqrt(0.8 * 0.2 / needed.size)


def test_real_aa_reaches_pass_within_max_samples() -> None:
    """A/A at 0.89 with independent noise, max_drop 0.05, alpha 0.05: >= 85% pass by 2000
    pairs (bench: 94%; 100 runs, 3 SE = 7%), checked every 10 pairs to keep CI fast."""
    base, can = arms(3, 0.89, 0.89, 100, 2000)
    passed = 0
    for b, c in zip(base, can, strict=True):
        both, b_only, c_only = np.cumsum(b & c), np.cumsum(b & ~c), np.cumsum(~b & c)
        for n in range(10, 2001, 10):
            k = n - 1
            stats = counts(int(both[k]), int(b_only[k]), int(c_only[k]), 0)
            stats = dataclasses.replace(stats, n=n, neither=n - stats.n)
            if binary_verdict(stats, 0.05, 0.05, 10, 0.28) is Verdict.PASS:
                passed += 1
                break
    assert passed >= 85
