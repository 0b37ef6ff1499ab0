"""Fast Fail: a one-sided SPRT on discordant pairs with an exactly calibrated threshold.

Only pairs where exactly one arm passed say which arm is better. Among them
theta = P(baseline passed | discordant), and a canary no worse than baseline has
theta <= 1/2. Against a design alternative theta1 the likelihood ratio after b baseline-only
and c canary-only pairs is (1 + lam)^b (1 - lam)^c with lam = 2 theta1 - 1. A `Bets` family
mixes a few designs with weights w: the statistic is max_k log(w_k LR_k).

The gate keeps only counts, so it cannot remember crossing an acceptance boundary: this is
Robbins' power-one SPRT. Ville's inequality gives P(ever log(w LR) >= log(1/alpha)) <= alpha
under theta = 1/2; the walk overshoots the threshold, so that bound is loose.
`fail_threshold` computes the exact crossing probability under theta = 1/2 by dynamic
programming over the (b, c) lattice and returns the smallest threshold whose probability is
<= alpha. A smaller theta crosses less often, so the test holds for the whole null. Mass the
program stops following is bounded with Ville's inequality: the result is a proven upper
bound, never an estimate.
"""

from __future__ import annotations

import math
from functools import lru_cache

LAMBDA_MIN = 0.02
LAMBDA_MAX = 0.95
_BISECTIONS = 11
_SEARCH_WIDTH = 1.0
_WORK_BUDGET = 400_000
_TINY = 1e-18

Bets = tuple[tuple[float, float], ...]  # (lam, weight) pairs, weights summing to <= 1


def design_lambda(design_drop: float, baseline_rate: float) -> float:
    """Bet 2 theta1 - 1 for a drop by `design_drop` from `baseline_rate`, arms independent."""
    p0 = min(max(baseline_rate, 0.02), 0.999)
    p1 = min(max(p0 - design_drop, 0.001), p0 - 0.001)
    worse, better = p0 * (1.0 - p1), (1.0 - p0) * p1
    return min(max((worse - better) / (worse + better), LAMBDA_MIN), LAMBDA_MAX)


def log_lr(baseline_only: int, canary_only: int, lam: float) -> float:
    return baseline_only * math.log1p(lam) + canary_only * math.log1p(-lam)


def score(baseline_only: int, canary_only: int, bets: Bets) -> float:
    """max over the family of log(weight x likelihood ratio)."""
    return max(log_lr(baseline_only, canary_only, lam) + math.log(w) for lam, w in bets)


@lru_cache(maxsize=256)
def fail_threshold(bets: Bets, alpha: float) -> float:
    """Smallest threshold on `score` (to ~1e-4) with P(ever reached | theta = 1/2) <= alpha."""
    hi = math.log(1.0 / alpha)  # Ville, as max_k w_k LR_k <= sum_k w_k LR_k: always valid
    lo = max(0.0, hi - _SEARCH_WIDTH)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2.0
        if crossing_at_most(bets, mid, alpha):
            hi = mid
        else:
            lo = mid
    return hi


def crossing_at_most(bets: Bets, threshold: float, alpha: float) -> bool:
    """True when P(score ever >= threshold | theta = 1/2) is provably <= alpha.

    State: the distribution of b at the start of segment c (after c canary-only pairs). In a
    segment baseline-only pairs come as a geometric run, so from b the walk fails with
    probability 2^-(h - b), h = the first failing b for this c; otherwise it lands below h.
    """
    lo, masses, crossed, pruned, work = 0, [1.0], 0.0, 0.0, 0
    h, c = 0, 0
    while True:
        h = _first_failing(c, bets, threshold, h)
        crossed += _halving_sum(masses, h - lo)
        masses = _run_then_canary(masses, h - lo)
        c += 1
        while masses and masses[0] < _TINY:  # follow no negligible mass; bound it instead
            pruned += masses.pop(0) * _potential([1.0], lo, c, bets, threshold)
            lo += 1
        rest = _potential(masses, lo, c, bets, threshold)
        work += len(masses) * len(bets)
        if crossed > alpha or work > _WORK_BUDGET:
            return False
        if crossed + pruned + rest <= alpha:
            return True


def _first_failing(canary_only: int, bets: Bets, threshold: float, start: int) -> int:
    b = start
    while score(b, canary_only, bets) < threshold:
        b += 1
    return b


def _halving_sum(masses: list[float], gap: int) -> float:
    """sum_i masses[i] 2^-(gap - i): the chance that a run of heads reaches the boundary."""
    acc = 0.0
    for m in masses:
        acc = (acc + m) * 0.5
    return acc * 0.5 ** (gap - len(masses))


def _potential(masses: list[float], lo: int, c: int, bets: Bets, threshold: float) -> float:
    """Ville: from b, the family crosses with probability <= sum_k w_k LR_k(b, c) / e^threshold.

    Summed over b = lo + i by Horner's rule in 1 / (1 + lam), scaled from the top state.
    """
    if not masses:
        return 0.0
    top = lo + len(masses) - 1
    total = 0.0
    for lam, w in bets:
        shrink, acc = 1.0 / (1.0 + lam), 0.0
        for m in masses:
            acc = acc * shrink + m
        total += w * math.exp(log_lr(top, c, lam) - threshold) * acc
    return total


def _run_then_canary(masses: list[float], size: int) -> list[float]:
    """Add a geometric run of baseline-only pairs (kept below the boundary), then one tail."""
    out: list[float] = []
    prev = 0.0
    for i in range(size):
        prev = 0.5 * (prev + (masses[i] if i < len(masses) else 0.0))
        out.append(prev)
    return out
