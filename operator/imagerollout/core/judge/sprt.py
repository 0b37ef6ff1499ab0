"""Fast Fail: a one-sided SPRT on discordant pairs with an exactly calibrated threshold.

Only pairs where exactly one arm passed carry information about which arm is better. Among
them, theta = P(baseline passed | discordant); canary no worse than baseline means
theta <= 1/2. Against a design alternative theta1 the likelihood ratio after b
baseline-only and c canary-only pairs is (1 + lam)^b (1 - lam)^c with lam = 2 theta1 - 1.

Without an acceptance boundary (the gate keeps only counts, so it cannot remember having
crossed one) this is Robbins' power-one SPRT. Ville's inequality gives
P(ever log LR >= log(1/alpha) | theta = 1/2) <= alpha; the walk overshoots the threshold, so
that bound is loose. `fail_threshold` computes the exact crossing probability under
theta = 1/2 by dynamic programming over the (b, c) lattice and returns the smallest threshold
whose probability is <= alpha. Any theta < 1/2 crosses less often, so the test is valid for
the whole null. The mass the dynamic program stops following is bounded with Ville's
inequality, so the result is an upper bound, never an estimate.
"""

from __future__ import annotations

import math
from functools import lru_cache

LAMBDA_MIN = 0.02
LAMBDA_MAX = 0.95
_BISECTIONS = 14
_WORK_BUDGET = 400_000
_TINY = 1e-18


def design_lambda(design_drop: float, baseline_rate: float) -> float:
    """Bet 2 theta1 - 1 for a drop by `design_drop` from `baseline_rate`, arms independent."""
    p0 = min(max(baseline_rate, 0.02), 0.999)
    p1 = min(max(p0 - design_drop, 0.001), p0 - 0.001)
    worse, better = p0 * (1.0 - p1), (1.0 - p0) * p1
    return min(max((worse - better) / (worse + better), LAMBDA_MIN), LAMBDA_MAX)


def log_lr(baseline_only: int, canary_only: int, lam: float) -> float:
    return baseline_only * math.log1p(lam) + canary_only * math.log1p(-lam)


@lru_cache(maxsize=256)
def fail_threshold(lam: float, alpha: float) -> float:
    """Smallest log-LR threshold (to ~1e-4) with P(ever crossing | theta = 1/2) <= alpha."""
    hi = math.log(1.0 / alpha)  # Ville: always valid
    lo = max(0.0, hi - 1.5)
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2.0
        if crossing_at_most(lam, mid, alpha):
            hi = mid
        else:
            lo = mid
    return hi


def _first_failing(canary_only: int, lam: float, threshold: float, start: int) -> int:
    b = start
    while log_lr(b, canary_only, lam) < threshold:
        b += 1
    return b


def crossing_at_most(lam: float, threshold: float, alpha: float) -> bool:
    """True when P(log LR ever >= threshold | theta = 1/2) is provably <= alpha.

    State: the distribution of b at the start of segment c (after c canary-only pairs). Within
    a segment baseline-only pairs arrive as a geometric run, so from b the walk fails with
    probability 2^-(h - b), h = the first failing b for this c; otherwise it lands below h.
    """
    lo, masses, crossed, pruned, work = 0, [1.0], 0.0, 0.0, 0
    h, c = 0, 0
    while True:
        h = _first_failing(c, lam, threshold, h)
        crossed += sum(m * 2.0 ** -(h - lo - i) for i, m in enumerate(masses))
        masses = _run_then_canary(masses, h - lo)
        c += 1
        while masses and masses[0] < _TINY:  # follow no negligible mass; bound it instead
            pruned += masses.pop(0) * math.exp(log_lr(lo, c, lam) - threshold)
            lo += 1
        rest = sum(m * math.exp(log_lr(lo + i, c, lam) - threshold) for i, m in enumerate(masses))
        work += len(masses)
        if crossed > alpha or work > _WORK_BUDGET:
            return False
        if crossed + pruned + rest <= alpha:
            return True


def _run_then_canary(masses: list[float], size: int) -> list[float]:
    """Add a geometric run of baseline-only pairs (kept below the boundary), then one tail."""
    out: list[float] = []
    prev = 0.0
    for i in range(size):
        prev = 0.5 * (prev + (masses[i] if i < len(masses) else 0.0))
        out.append(prev)
    return out
