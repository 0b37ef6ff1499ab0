"""The fast Fail test: design bets and the exactly calibrated SPRT threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerollout.core.judge import sprt

INCIDENT = ((sprt.design_lambda(0.28, 0.89), 1.0),)
MIXED = ((sprt.design_lambda(0.2, 0.9), 0.8), (sprt.design_lambda(0.06, 0.9), 0.2))


def brute_force_crossing(bets: sprt.Bets, threshold: float, steps: int) -> float:
    """P(score ever >= threshold within `steps` discordant pairs), fair coin, by plain DP."""
    alive, crossed = {0: 1.0}, 0.0
    for k in range(1, steps + 1):
        nxt: dict[int, float] = {}
        for b, mass in alive.items():
            nxt[b + 1] = nxt.get(b + 1, 0.0) + mass / 2
            nxt[b] = nxt.get(b, 0.0) + mass / 2
        alive = {}
        for b, mass in nxt.items():
            if sprt.score(b, k - b, bets) >= threshold:
                crossed += mass
            else:
                alive[b] = mass
    return crossed


def test_design_lambda_matches_the_discordant_pair_odds() -> None:
    # theta1 = p0 (1 - p1) / (p0 (1 - p1) + (1 - p0) p1) from the notes; lam = 2 theta1 - 1
    theta1 = 0.89 * 0.39 / (0.89 * 0.39 + 0.11 * 0.61)
    assert sprt.design_lambda(0.28, 0.89) == pytest.approx(2 * theta1 - 1)


@given(drop=st.floats(0.001, 0.99), base=st.floats(0.0, 1.0))
def test_design_lambda_stays_a_valid_bet(drop: float, base: float) -> None:
    assert sprt.LAMBDA_MIN <= sprt.design_lambda(drop, base) <= sprt.LAMBDA_MAX


@given(st.floats(0.05, 0.3), st.floats(0.05, 0.3))
def test_a_larger_design_drop_bets_more(a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert sprt.design_lambda(small, 0.9) <= sprt.design_lambda(large, 0.9)


@pytest.mark.parametrize("bets", [INCIDENT, MIXED], ids=["incident", "mixed"])
@pytest.mark.parametrize("alpha", [0.05, 0.0125])
def test_threshold_is_below_ville_and_exact(bets: sprt.Bets, alpha: float) -> None:
    threshold = sprt.fail_threshold(bets, alpha)
    assert threshold < math.log(1 / alpha)
    assert sprt.crossing_at_most(bets, threshold, alpha)
    # tight: a visibly lower threshold crosses too often
    assert not sprt.crossing_at_most(bets, threshold - 0.05, alpha)


@pytest.mark.parametrize("bets", [INCIDENT, MIXED], ids=["incident", "mixed"])
def test_threshold_agrees_with_a_brute_force_dynamic_program(bets: sprt.Bets) -> None:
    threshold = sprt.fail_threshold(bets, 0.05)
    # 400 discordant pairs hold all but a negligible share of the crossings for these bets
    assert brute_force_crossing(bets, threshold, 400) <= 0.05
    assert brute_force_crossing(bets, threshold - 0.05, 400) > 0.05


def test_monte_carlo_crossing_rate_matches_alpha() -> None:
    """20000 fair-coin walks of 300 discordant pairs: rate <= alpha + 3 SE (SE = 0.0015)."""
    alpha = 0.05
    threshold = sprt.fail_threshold(INCIDENT, alpha)
    rng = np.random.default_rng(11)
    b = np.cumsum(rng.random((20000, 300)) < 0.5, axis=1)
    c = np.arange(1, 301) - b
    lam = INCIDENT[0][0]
    crossed = ((b * math.log1p(lam) + c * math.log1p(-lam)) >= threshold).any(axis=1).mean()
    se = math.sqrt(alpha * (1 - alpha) / 20000)
    assert crossed <= alpha + 3 * se
    assert crossed >= 0.8 * alpha  # and the calibration is not Ville-loose


def test_score_is_the_weighted_maximum() -> None:
    expected = max(sprt.log_lr(7, 2, lam) + math.log(w) for lam, w in MIXED)
    assert sprt.score(7, 2, MIXED) == pytest.approx(expected)
