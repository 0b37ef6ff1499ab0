"""Anytime-valid bounds on the mean of paired differences X in {-1, 0, 1} (canary - baseline).

For a null value d0, H0: E[X] <= d0, the capital of a bettor who stakes a share c of it on
X exceeding d0 evolves as prod(1 + c (X_i - d0) / (1 + d0)). That product is a nonnegative
supermartingale under H0 (each factor has mean <= 1) and never negative (X >= -1), so by
Ville's inequality P(it ever reaches 1/alpha) <= alpha. A fixed mixture of such bettors is
again a supermartingale; it depends only on the counts of -1, 0 and +1 and so can be
recomputed from the sufficient statistics after every pair (Waudby-Smith & Ramdas 2023,
"Estimating means of bounded random variables by betting").

Inverting the tests over d0 gives a confidence sequence: the lower bound is the largest d0
rejected. The capital falls as d0 rises, so bisection finds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# Stake shares, a factor of two apart: 1 suits identical arms, 1/32 a small margin on noisy arms.
SHARES = (1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125)
_LOG_WEIGHT = -math.log(len(SHARES))
_EDGE = 1e-9
_STEPS = 40


def log_capital(minus: int, zero: int, plus: int, d0: float) -> float:
    """log of the mixed capital for H0: E[X] <= d0, given the counts of X = -1, 0, +1."""
    terms = []
    for c in SHARES:
        if minus and c >= 1.0:
            continue  # this bettor staked everything on X > -1 and lost it
        term = minus * math.log1p(-c) if minus else 0.0
        term += zero * math.log1p(-c * d0 / (1.0 + d0))
        term += plus * math.log1p(c * (1.0 - d0) / (1.0 + d0))
        terms.append(term + _LOG_WEIGHT)
    return _logsumexp(terms)


def lower_bound(minus: int, zero: int, plus: int, alpha: float) -> float:
    """Anytime-valid lower confidence bound on E[X] at level alpha (in [-1, 1])."""
    level = math.log(1.0 / alpha)
    return _last_true(lambda d0: log_capital(minus, zero, plus, d0) >= level)


def upper_bound(minus: int, zero: int, plus: int, alpha: float) -> float:
    """Mirror image: an upper bound on E[X] is minus a lower bound on E[-X]."""
    return -lower_bound(plus, zero, minus, alpha)


def _last_true(rejected: Callable[[float], bool]) -> float:
    """Largest d0 in [-1, 1] with rejected(d0), for a predicate true below a point, false above."""
    lo, hi = -1.0 + _EDGE, 1.0 - _EDGE
    if not rejected(lo):
        return -1.0
    if rejected(hi):
        return 1.0
    for _ in range(_STEPS):
        mid = (lo + hi) / 2.0
        if rejected(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _logsumexp(terms: list[float]) -> float:
    if not terms:
        return -math.inf
    top = max(terms)
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))
