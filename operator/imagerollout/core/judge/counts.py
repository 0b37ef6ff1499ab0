"""A sequential test on event counts: is the canary's error rate above `max_ratio` x baseline's?

Conditional on the errors seen in a window, each one came from the canary with probability
pi(r) = r*n_c / (r*n_c + n_b), where r is the rate ratio and n the arms' requests. The
likelihood ratio of pi(r1) against pi(max_ratio), multiplied over windows, is a
nonnegative supermartingale whenever the true ratio is at most max_ratio, so by Ville's
inequality the gate fails a good canary with probability at most alpha however often it
looks. A uniform mixture over alternative ratios r1 avoids fixing one effect size.
Exact given the counts, with no nuisance parameter: the baseline's rate cancels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Alternatives, as multiples of max_ratio: from a 50% rise to a tenfold one.
ALTERNATIVES = (1.5, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True)
class CountWindow:
    canary_errors: float
    canary_requests: float
    baseline_errors: float
    baseline_requests: float


def window_log_ratios(window: CountWindow, max_ratio: float) -> tuple[float, ...]:
    """Log likelihood ratio of each alternative against max_ratio for one window."""
    e_c, e_b = round(window.canary_errors), round(window.baseline_errors)
    n_c, n_b = window.canary_requests, window.baseline_requests
    if e_c + e_b == 0 or n_c <= 0 or n_b <= 0:
        return tuple(0.0 for _ in ALTERNATIVES)  # no errors: no information on the split
    p0 = _canary_share(max_ratio, n_c, n_b)
    ratios = []
    for multiple in ALTERNATIVES:
        p1 = _canary_share(max_ratio * multiple, n_c, n_b)
        ratios.append(e_c * math.log(p1 / p0) + e_b * math.log((1 - p1) / (1 - p0)))
    return tuple(ratios)


def _canary_share(ratio: float, n_c: float, n_b: float) -> float:
    return ratio * n_c / (ratio * n_c + n_b)


def accumulate(evidence: list[float], window: CountWindow, max_ratio: float) -> list[float]:
    """Add one window to the running log likelihood ratios (empty: none yet)."""
    current = evidence if len(evidence) == len(ALTERNATIVES) else [0.0] * len(ALTERNATIVES)
    step = window_log_ratios(window, max_ratio)
    return [a + b for a, b in zip(current, step, strict=True)]


def e_value(evidence: list[float]) -> float:
    """The mixture likelihood ratio; >= 1/alpha rejects "canary no worse than max_ratio"."""
    if not evidence:
        return 1.0
    top = max(evidence)
    # log-sum-exp keeps large ratios finite until they are compared
    mixture_log = top + math.log(sum(math.exp(x - top) for x in evidence) / len(evidence))
    return math.exp(min(mixture_log, 700.0))


def rejects(evidence: list[float], alpha: float) -> bool:
    return e_value(evidence) >= 1.0 / alpha
