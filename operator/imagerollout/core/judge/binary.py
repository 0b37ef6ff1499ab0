"""The paired binary gate: per image, did the expected text come out right on each arm?

Pass (non-inferiority). H0: canary rate <= baseline rate - max_drop, tested with the betting
confidence sequence of `betting`: Pass once its lower bound on the effect (canary - baseline)
exceeds -max_drop. P(Pass | the canary is worse than tolerated) <= alpha at any stopping
time. Concordant pairs count as evidence: identical arms pass after
log(len(SHARES) / alpha) / -log(1 - max_drop) pairs (about 150-200 at max_drop 0.03).

Fail. H0: canary rate >= baseline rate (a good canary). Two tests share alpha:
- `sprt`: a one-sided SPRT on discordant pairs tuned to a design drop, with an exactly
  calibrated threshold, at (1 - FAIL_BROAD_SHARE) alpha. It is the fastest test with power one:
  for 0.89 -> 0.61 it fails after about 29 pairs on average, against 23 for Wald's two-sided
  SPRT, which buys its speed by accepting (giving up on) about 13% of such regressions.
- the betting upper bound at FAIL_BROAD_SHARE alpha falling below -max_drop: this catches
  any regression beyond tolerance, even one far smaller than the design drop.
By the union bound P(Fail | canary as good as baseline) <= alpha, checked after every pair.

If both verdicts hold at once, Fail wins. Below min_samples the verdict is Inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from imagerollout.core.judge import betting, sprt
from imagerollout.core.judge.types import GateResult, Verdict

FAIL_BROAD_SHARE = 0.05
DEFAULT_DESIGN_DROP = 0.2
DEFAULT_DESIGN_BASELINE = 0.9


@dataclass(frozen=True)
class BinaryStats:
    """Counts of paired outcomes; JSON-serialisable with dataclasses.asdict, order-free."""

    n: int = 0
    both: int = 0
    baseline_only: int = 0
    canary_only: int = 0
    neither: int = 0

    def add(self, baseline_ok: bool, canary_ok: bool) -> BinaryStats:
        if baseline_ok and canary_ok:
            return replace(self, n=self.n + 1, both=self.both + 1)
        if baseline_ok:
            return replace(self, n=self.n + 1, baseline_only=self.baseline_only + 1)
        if canary_ok:
            return replace(self, n=self.n + 1, canary_only=self.canary_only + 1)
        return replace(self, n=self.n + 1, neither=self.neither + 1)

    @property
    def ties(self) -> int:
        return self.both + self.neither


def binary_gate(
    gate: str,
    stats: BinaryStats,
    max_drop: float,
    alpha: float,
    min_samples: int,
    design_drop: float | None = None,
    *,
    design_baseline: float = DEFAULT_DESIGN_BASELINE,
) -> GateResult:
    """Verdict for one binary gate; see the module docstring for the tests and guarantees.

    design_drop: the drop to detect fastest (default max(0.2, 2 max_drop)); design_baseline:
    the baseline rate assumed when turning it into a bet (fix it before sampling starts).
    """
    _check(stats, max_drop, alpha, min_samples)
    design = design_drop if design_drop is not None else max(DEFAULT_DESIGN_DROP, 2 * max_drop)
    verdict, why = _verdict(stats, max_drop, alpha, min_samples, design, design_baseline)
    return _result(gate, stats, alpha, verdict, why)


def fails_fast(
    stats: BinaryStats, alpha: float, design_drop: float, design_baseline: float
) -> bool:
    lam = sprt.design_lambda(design_drop, design_baseline)
    threshold = sprt.fail_threshold(lam, (1.0 - FAIL_BROAD_SHARE) * alpha)
    return sprt.log_lr(stats.baseline_only, stats.canary_only, lam) >= threshold


def fails_beyond_tolerance(stats: BinaryStats, max_drop: float, alpha: float) -> bool:
    # H0: E[X] >= -max_drop is H0: E[-X] <= max_drop; -X swaps the two discordant counts.
    capital = betting.log_capital(stats.canary_only, stats.ties, stats.baseline_only, max_drop)
    return capital >= math.log(1.0 / (FAIL_BROAD_SHARE * alpha))


def passes(stats: BinaryStats, max_drop: float, alpha: float) -> bool:
    capital = betting.log_capital(stats.baseline_only, stats.ties, stats.canary_only, -max_drop)
    return capital >= math.log(1.0 / alpha)


def _verdict(
    stats: BinaryStats,
    max_drop: float,
    alpha: float,
    min_samples: int,
    design: float,
    design_baseline: float,
) -> tuple[Verdict, str]:
    if stats.n < min_samples or stats.n == 0:
        return Verdict.INCONCLUSIVE, f"{max(min_samples - stats.n, 1)} more pairs before a verdict"
    if fails_fast(stats, alpha, design, design_baseline):
        return Verdict.FAIL, f"{stats.baseline_only} vs {stats.canary_only} discordant pairs"
    if fails_beyond_tolerance(stats, max_drop, alpha):
        return Verdict.FAIL, f"more than {max_drop:g} below baseline"
    if passes(stats, max_drop, alpha):
        return Verdict.PASS, f"at most {max_drop:g} below baseline"
    return Verdict.INCONCLUSIVE, "no verdict yet"


def _result(gate: str, stats: BinaryStats, alpha: float, verdict: Verdict, why: str) -> GateResult:
    n = stats.n
    base = (stats.both + stats.baseline_only) / n if n else 0.0
    can = (stats.both + stats.canary_only) / n if n else 0.0
    minus, zero, plus = stats.baseline_only, stats.ties, stats.canary_only
    lower = betting.lower_bound(minus, zero, plus, alpha) if n else -1.0
    upper = betting.upper_bound(minus, zero, plus, alpha) if n else 1.0
    reason = f"canary {can:.2f} vs baseline {base:.2f}, {verdict} after {n} pairs ({why})"
    return GateResult(gate, verdict, n, base, can, can - base, lower, upper, reason)


def _check(stats: BinaryStats, max_drop: float, alpha: float, min_samples: int) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 <= max_drop < 1.0:
        raise ValueError(f"max_drop must be in [0, 1), got {max_drop}")
    if min_samples < 0:
        raise ValueError(f"min_samples must be >= 0, got {min_samples}")
    parts = stats.both + stats.baseline_only + stats.canary_only + stats.neither
    if parts != stats.n or min(stats.n, stats.both, stats.baseline_only, stats.canary_only) < 0:
        raise ValueError(f"inconsistent counts: {stats}")
