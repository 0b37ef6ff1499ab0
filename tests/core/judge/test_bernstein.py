"""Empirical-Bernstein confidence sequence for bounded differences."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from imagerollout.core.judge import bernstein


def moments(values: list[float]) -> tuple[int, float, float]:
    arr = np.asarray(values, dtype=float)
    return arr.size, float(arr.mean()), float(((arr - arr.mean()) ** 2).sum())


samples = st.lists(st.floats(-1.0, 1.0), min_size=1, max_size=300)


def test_no_data_gives_the_scale() -> None:
    assert bernstein.lower_bound(0, 0.0, 0.0, 2.5, 0.05) == -2.5
    assert bernstein.upper_bound(0, 0.0, 0.0, 2.5, 0.05) == 2.5


@given(samples, st.sampled_from([0.01, 0.05, 0.2]))
def test_bounds_contain_the_mean_and_stay_in_scale(values: list[float], alpha: float) -> None:
    n, mean, m2 = moments(values)
    lower = bernstein.lower_bound(n, mean, m2, 1.0, alpha)
    upper = bernstein.upper_bound(n, mean, m2, 1.0, alpha)
    assert -1.0 <= lower <= mean + 1e-9
    assert mean - 1e-9 <= upper <= 1.0


@given(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.floats(-0.9, 0.9), st.floats(0.0, 0.3))
def test_each_bettor_loses_as_the_null_value_rises(a: float, b: float, x: float, v: float) -> None:
    """Per sample, lam xi - psi xi^2 must fall in m0 (this is why lam <= 1/2)."""
    lo, hi = sorted((a, b))
    assert bernstein.log_capital(1, x, 0.0, 1.0, hi) <= bernstein.log_capital(1, x, 0.0, 1.0, lo)
    n, mean, m2 = 50, x, 50 * v
    assert (
        bernstein.log_capital(n, mean, m2, 1.0, hi)
        <= bernstein.log_capital(n, mean, m2, 1.0, lo) + 1e-9
    )


def test_low_variance_gives_a_narrower_band() -> None:
    quiet = bernstein.upper_bound(400, 0.0, 400 * 0.001, 1.0, 0.05)
    noisy = bernstein.upper_bound(400, 0.0, 400 * 0.25, 1.0, 0.05)
    assert 0 < quiet < noisy / 2


def test_coverage_when_checked_after_every_pair() -> None:
    """P(the true mean ever falls below the lower bound) <= alpha, checked after every pair.

    400 streams x 400 pairs of Beta-distributed differences, alpha = 0.1:
    SE = sqrt(0.1 * 0.9 / 400) = 0.015; allow alpha + 3 SE.
    """
    alpha, runs, steps = 0.1, 400, 400
    rng = np.random.default_rng(8)
    diffs = rng.beta(2, 5, size=(runs, steps)) - rng.beta(2, 5, size=(runs, steps))
    true_mean = 0.0
    level = math.log(1 / alpha)
    n = np.arange(1, steps + 1)
    means = np.cumsum(diffs, axis=1) / n
    m2s = np.maximum(np.cumsum(diffs**2, axis=1) - n * means**2, 0.0)
    misses = 0
    for mean_row, m2_row in zip(means.tolist(), m2s.tolist(), strict=True):
        for k, (mean, m2) in enumerate(zip(mean_row, m2_row, strict=True), start=1):
            if bernstein.log_capital(k, mean, m2, 1.0, true_mean) >= level:
                misses += 1
                break
    assert misses / runs <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / runs)
