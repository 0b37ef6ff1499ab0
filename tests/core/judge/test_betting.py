"""Betting confidence sequences for the mean of X in {-1, 0, 1}."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerollout.core.judge import betting

counts = st.integers(0, 400)


def test_no_data_no_evidence() -> None:
    assert betting.log_capital(0, 0, 0, -0.3) == pytest.approx(0.0)
    assert betting.lower_bound(0, 0, 0, 0.05) == -1.0
    assert betting.upper_bound(0, 0, 0, 0.05) == 1.0


@given(counts, counts, counts, st.sampled_from([0.01, 0.05, 0.2]))
def test_bounds_contain_the_sample_mean(minus: int, zero: int, plus: int, alpha: float) -> None:
    n = minus + zero + plus
    lower = betting.lower_bound(minus, zero, plus, alpha)
    upper = betting.upper_bound(minus, zero, plus, alpha)
    assert -1.0 <= lower <= upper <= 1.0
    if n:
        assert lower <= (plus - minus) / n <= upper


@given(counts, counts, counts)
def test_more_wins_never_lower_the_lower_bound(minus: int, zero: int, plus: int) -> None:
    assert betting.lower_bound(minus, zero, plus + 1, 0.05) >= betting.lower_bound(
        minus, zero, plus, 0.05
    )
    if minus:
        assert betting.lower_bound(minus - 1, zero + 1, plus, 0.05) >= betting.lower_bound(
            minus, zero, plus, 0.05
        )


@given(st.floats(-0.9, 0.9), st.floats(-0.9, 0.9))
def test_capital_falls_as_the_null_value_rises(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert betting.log_capital(5, 40, 9, hi) <= betting.log_capital(5, 40, 9, lo) + 1e-12


def test_bounds_narrow_with_more_data() -> None:
    small = betting.upper_bound(2, 16, 2, 0.05) - betting.lower_bound(2, 16, 2, 0.05)
    large = betting.upper_bound(20, 160, 20, 0.05) - betting.lower_bound(20, 160, 20, 0.05)
    assert large < small / 2


def test_identical_arms_bound_tightens_like_the_all_in_bettor() -> None:
    # only ties: the share-1 bettor alone reaches 1/alpha when (1 + d)^-n >= len(SHARES)/alpha
    n = 200
    lower = betting.lower_bound(0, n, 0, 0.05)
    all_in = 1 - (len(betting.SHARES) / 0.05) ** (-1 / n)  # -d solving the inequality
    assert -all_in - 0.005 <= lower <= -all_in + 0.005


def test_coverage_when_checked_after_every_step() -> None:
    """Time-uniform coverage: P(the true mean is ever rejected) <= alpha.

    500 streams x 400 steps with P(-1, 0, 1) = (0.2, 0.5, 0.3), mean 0.1, alpha = 0.1.
    SE = sqrt(0.1 * 0.9 / 500) = 0.0134; allow alpha + 3 SE. A fixed-sample bound checked
    after every step fails this (far more than 14%).
    """
    alpha, true_mean = 0.1, 0.1
    rng = np.random.default_rng(5)
    draws = rng.choice([-1, 0, 1], p=[0.2, 0.5, 0.3], size=(500, 400))
    level = math.log(1 / alpha)
    misses = 0
    for row in draws:
        minus = np.cumsum(row == -1).tolist()
        plus = np.cumsum(row == 1).tolist()
        for n, (m, p) in enumerate(zip(minus, plus, strict=True), start=1):
            if betting.log_capital(m, n - m - p, p, true_mean) >= level:
                misses += 1
                break
    assert misses / 500 <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / 500)
