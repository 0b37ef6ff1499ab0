"""The paired continuous gate: tables, properties and simulations (checked after every pair)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerollout.core.judge import (
    ContinuousStats,
    Verdict,
    continuous_gate,
    continuous_verdict,
)

pairs_strategy = st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), max_size=200)


def fill(pairs: list[tuple[float, float]], scale: float | None = None) -> ContinuousStats:
    stats = ContinuousStats()
    for b, c in pairs:
        stats = stats.add(b, c, scale=scale)
    return stats


def constant(n: int, baseline: float, canary: float) -> ContinuousStats:
    return ContinuousStats(n, baseline, canary, canary - baseline, 0.0)


# --- tables -----------------------------------------------------------------------------


def test_no_pairs_is_inconclusive_with_the_scale_as_bounds() -> None:
    result = continuous_gate("latency", ContinuousStats(), 0.2, 0.05, 0, False, 30.0)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert (result.lower, result.upper, result.samples) == (-30.0, 30.0, 0)
    json.dumps(dataclasses.asdict(result), allow_nan=False)


@pytest.mark.parametrize(
    ("stats", "higher_is_better", "expected"),
    [
        pytest.param(constant(200, 0.80, 0.80), True, Verdict.PASS, id="same-ssim-passes"),
        pytest.param(constant(200, 0.80, 0.60), True, Verdict.FAIL, id="worse-ssim-fails"),
        pytest.param(constant(200, 0.80, 0.60), False, Verdict.PASS, id="lower-ned-passes"),
        pytest.param(constant(200, 0.20, 0.40), False, Verdict.FAIL, id="higher-ned-fails"),
        pytest.param(constant(5, 0.20, 0.40), False, Verdict.INCONCLUSIVE, id="too-few"),
    ],
)
def test_direction_and_verdicts(
    stats: ContinuousStats, higher_is_better: bool, expected: Verdict
) -> None:
    result = continuous_gate("g", stats, 0.05, 0.05, 0, higher_is_better, 1.0)
    assert result.verdict is expected
    assert result.effect == pytest.approx(stats.mean_c - stats.mean_b)


def test_min_samples_holds_back_a_clear_verdict() -> None:
    stats = constant(200, 0.80, 0.60)
    assert continuous_verdict(stats, 0.05, 0.05, 201, True, 1.0) is Verdict.INCONCLUSIVE
    assert continuous_verdict(stats, 0.05, 0.05, 200, True, 1.0) is Verdict.FAIL


def test_reason_carries_the_numbers() -> None:
    result = continuous_gate("latency", constant(100, 1.25, 2.5), 0.2, 0.05, 10, False, 5.0)
    expected = "canary 2.5 vs baseline 1.25, Fail after 100 pairs (worse by more than 0.2)"
    assert result.reason == expected


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"alpha": 1.0}, "alpha", id="alpha"),
        pytest.param({"scale": 0.0}, "scale", id="scale"),
        pytest.param({"max_worsening": -0.1}, "max_worsening", id="worsening"),
        pytest.param({"min_samples": -1}, "min_samples", id="min-samples"),
        pytest.param({"stats": constant(3, 0.0, 2.0)}, "outside", id="beyond-scale"),
        pytest.param({"stats": constant(3, 0.0, math.nan)}, "finite", id="nan"),
    ],
)
def test_invalid_input_is_rejected(kwargs: dict[str, object], error: str) -> None:
    args: dict[str, object] = {
        "gate": "g",
        "stats": ContinuousStats(),
        "max_worsening": 0.05,
        "alpha": 0.05,
        "min_samples": 0,
        "higher_is_better": True,
        "scale": 1.0,
    }
    with pytest.raises(ValueError, match=error):
        continuous_gate(**{**args, **kwargs})  # type: ignore[arg-type]


def test_add_refuses_non_finite_scores() -> None:
    with pytest.raises(ValueError, match="finite"):
        ContinuousStats().add(0.5, math.inf)


def test_add_clips_differences_to_the_scale() -> None:
    stats = ContinuousStats().add(0.5, 9.0, scale=2.0)
    assert (stats.mean_d, stats.mean_c, stats.m2_d) == (2.0, 9.0, 0.0)


# --- properties ---------------------------------------------------------------------------


@given(pairs_strategy)
def test_running_moments_match_numpy(pairs: list[tuple[float, float]]) -> None:
    stats = fill(pairs)
    assert stats.n == len(pairs)
    if pairs:
        base, can = np.array(pairs).T
        diff = can - base
        assert stats.mean_b == pytest.approx(base.mean(), abs=1e-9)
        assert stats.mean_c == pytest.approx(can.mean(), abs=1e-9)
        assert stats.mean_d == pytest.approx(diff.mean(), abs=1e-9)
        assert stats.m2_d == pytest.approx(((diff - diff.mean()) ** 2).sum(), abs=1e-7)


@given(pairs_strategy, st.randoms())
def test_adding_pairs_is_order_free(pairs: list[tuple[float, float]], rnd: object) -> None:
    shuffled = list(pairs)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a, b = fill(pairs), fill(shuffled)
    assert a.n == b.n
    assert a.mean_d == pytest.approx(b.mean_d, abs=1e-9)
    assert a.m2_d == pytest.approx(b.m2_d, abs=1e-7)


@settings(deadline=None)
@given(pairs_strategy, st.sampled_from([0.01, 0.05]), st.booleans())
def test_bounds_contain_the_effect_and_match_the_verdict(
    pairs: list[tuple[float, float]], alpha: float, higher_is_better: bool
) -> None:
    stats = fill(pairs)
    result = continuous_gate("g", stats, 0.05, alpha, 0, higher_is_better, 1.0)
    assert -1.0 <= result.lower <= result.effect + 1e-9
    assert result.effect - 1e-9 <= result.upper <= 1.0
    assert result.verdict is continuous_verdict(stats, 0.05, alpha, 0, higher_is_better, 1.0)
    worst = result.lower if higher_is_better else -result.upper  # oriented: larger is better
    best = result.upper if higher_is_better else -result.lower
    if result.verdict is Verdict.PASS:
        assert worst >= -0.05 - 1e-6
    if result.verdict is Verdict.FAIL:
        assert best <= -0.05 + 1e-6


@settings(deadline=None)
@given(pairs_strategy, st.floats(0.0, 0.5))
def test_a_worse_canary_never_gets_a_better_verdict(
    pairs: list[tuple[float, float]], penalty: float
) -> None:
    rank = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}
    worse = [(b, c - penalty) for b, c in pairs]
    before = continuous_verdict(fill(pairs), 0.05, 0.05, 0, True, 1.5)
    after = continuous_verdict(fill(worse), 0.05, 0.05, 0, True, 1.5)
    assert rank[after] <= rank[before] or not pairs


# --- simulations --------------------------------------------------------------------------


def first_verdicts(
    diffs: np.ndarray, worsening: float, alpha: float, stop_on: frozenset[Verdict], every: int = 1
) -> list[tuple[Verdict, int]]:
    """Per stream, the first verdict in `stop_on` (checked every `every` pairs) and when."""
    n = np.arange(1, diffs.shape[1] + 1)
    means = np.cumsum(diffs, axis=1) / n
    m2s = np.maximum(np.cumsum(diffs**2, axis=1) - n * means**2, 0.0)
    out = []
    for mean_row, m2_row in zip(means.tolist(), m2s.tolist(), strict=True):
        found = (Verdict.INCONCLUSIVE, diffs.shape[1])
        for k in range(every - 1, diffs.shape[1], every):
            stats = ContinuousStats(k + 1, 0.0, mean_row[k], mean_row[k], m2_row[k])
            verdict = continuous_verdict(stats, worsening, alpha, 1, True, 1.0)
            if verdict in stop_on:
                found = (verdict, k + 1)
                break
        out.append(found)
    return out


def beta_diffs(seed: int, shift: float, runs: int, pairs: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.beta(2, 5, size=(runs, pairs))
    return np.asarray(rng.beta(2, 5, size=(runs, pairs)) - base + shift)


DECIDED = frozenset({Verdict.PASS, Verdict.FAIL})


def test_false_fail_at_the_tolerance_boundary_stays_below_alpha() -> None:
    """Canary worse by exactly max_worsening (the hardest case for Fail), alpha 0.1, checked
    after every pair and ignoring Pass: 300 streams x 300 pairs, SE 0.017, allow alpha + 3 SE.
    (The empirical-Bernstein sequence is conservative here: the simulated rate is 0.)"""
    verdicts = first_verdicts(beta_diffs(4, -0.05, 300, 300), 0.05, 0.1, frozenset({Verdict.FAIL}))
    rate = float(np.mean([v is Verdict.FAIL for v, _ in verdicts]))
    assert rate <= 0.1 + 3 * math.sqrt(0.1 * 0.9 / 300)


def test_power_and_pass_reachability() -> None:
    """Differences of two Beta(2, 5) scores, max_worsening 0.05, alpha 0.05 (docs/judge.md):
    worse by 0.15 fails in every stream within 400 pairs (mean 130); equal arms pass in
    >= 90% of streams within 600 pairs (mean 314, 95th percentile 542)."""
    worse = first_verdicts(beta_diffs(6, -0.15, 100, 400), 0.05, 0.05, DECIDED)
    assert all(v is Verdict.FAIL for v, _ in worse)
    same = first_verdicts(beta_diffs(9, 0.0, 100, 600), 0.05, 0.05, DECIDED, every=5)
    assert sum(v is Verdict.PASS for v, _ in same) >= 90
