"""Empirical-Bernstein confidence sequence for the mean of bounded differences D in [-s, s].

Fan, Grama & Liu (2015): for xi >= -1 and lam in [0, 1),
    exp(lam xi - psi(lam) xi^2) <= 1 + lam xi,   psi(lam) = -log(1 - lam) - lam.
Take xi_i = (D_i - m0) / k with k >= m0 + s, so that xi_i >= -1. Under H0: E[D_i | past] <= m0
each factor has mean <= 1, so prod exp(lam xi_i - psi xi_i^2) is a nonnegative
supermartingale and Ville's inequality bounds P(it ever reaches 1/alpha) by alpha (Howard,
Ramdas, McAuliffe & Sekhon 2021, empirical-Bernstein boundaries, with the prediction fixed at
m0). Its exponent needs only sum xi_i = n (mean - m0) / k and
sum xi_i^2 = (M2 + n (mean - m0)^2) / k^2, so it is computed from (n, mean, M2) after every
pair. A fixed mixture over lam adapts to the unknown variance.

The lower bound is the largest m0 rejected. Rejection must not come back above that m0, so
each factor has to fall as m0 rises: lam <= 1/2 keeps lam xi - psi xi^2 increasing for
xi <= 1.29, and k = max(s + m0, (s - m0) / 1.29) keeps xi <= 1.29.
"""

from __future__ import annotations

import math

LAMBDAS: tuple[float, ...] = tuple(0.5**j for j in range(1, 9))  # 1/2 down to 1/256
_LOG_WEIGHT = -math.log(len(LAMBDAS))
_XI_MAX = 1.29
_STEPS = 50


def lower_bound(n: int, mean: float, m2: float, scale: float, alpha: float) -> float:
    """Anytime-valid lower bound on E[D] at level alpha, within [-scale, scale]."""
    if n == 0:
        return -scale
    level = math.log(1.0 / alpha)
    lo, hi = -scale, min(max(mean, -scale), scale)
    if log_capital(n, mean, m2, scale, lo) < level:
        return -scale
    for _ in range(_STEPS):
        mid = (lo + hi) / 2.0
        if log_capital(n, mean, m2, scale, mid) >= level:
            lo = mid
        else:
            hi = mid
    return lo


def upper_bound(n: int, mean: float, m2: float, scale: float, alpha: float) -> float:
    return -lower_bound(n, -mean, m2, scale, alpha)


def log_capital(n: int, mean: float, m2: float, scale: float, m0: float) -> float:
    """log of the mixed capital against H0: E[D] <= m0."""
    k = max(scale + m0, (scale - m0) / _XI_MAX)
    total = n * (mean - m0) / k
    squares = (m2 + n * (mean - m0) ** 2) / k**2
    terms = [lam * total - _psi(lam) * squares + _LOG_WEIGHT for lam in LAMBDAS]
    top = max(terms)
    return top + math.log(math.fsum(math.exp(t - top) for t in terms))


def _psi(lam: float) -> float:
    return -math.log1p(-lam) - lam
