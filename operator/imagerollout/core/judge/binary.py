"""The paired binary gate: per image, did the expected text come out right on each arm?

X = canary_ok - baseline_ok per pair, in {-1, 0, 1}; effect = E[X] = canary rate - baseline rate.

Pass (non-inferiority). H0: effect <= -max_drop, tested with the betting confidence sequence
of `betting`: Pass once its lower bound on the effect exceeds -max_drop.
P(Pass | canary worse than tolerated) <= alpha at any stopping time. Concordant pairs count:
identical arms pass after about log(6 / alpha) / -log(1 - max_drop) pairs (152 at
max_drop 0.03 and alpha 0.05).

Fail. H0: effect >= 0 (a canary as good as baseline). Two tests share alpha:
- `sprt`: a power-one SPRT on discordant pairs tuned to a design drop, its threshold
  calibrated exactly, at (1 - FAIL_BROAD_SHARE) alpha. For 0.89 -> 0.61 it fails after about
  30 pairs on average, against 23 for Wald's SPRT, which is faster because it gives up
  (accepts H0) on about 13% of such regressions. By default it mixes two designs: a large
  drop (0.2) and twice the tolerance, so mid-sized regressions also fail in hundreds of pairs.
- the betting upper bound at FAIL_BROAD_SHARE alpha falling below -max_drop: a backstop that
  eventually catches any regression beyond tolerance, whatever the design.
By the union bound P(Fail | effect >= 0) <= alpha, checked after every pair. Drops within
tolerance fail more often than alpha but far less than real regressions (docs/judge.md).

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
SMALL_DESIGN_WEIGHT = 0.2


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

    design_drop: the drop to detect fastest; None mixes 0.2 and 2 x max_drop (`fast_bets`).
    design_baseline: the baseline rate assumed to turn drops into bets; fix it before
    sampling starts (for example from the measured OCR ceiling), never from the same pairs.
    """
    _check(stats, max_drop, alpha, min_samples)
    bets = fast_bets(max_drop, design_drop, design_baseline)
    verdict, why = _decide(stats, max_drop, alpha, min_samples, bets)
    return binary_result(gate, stats, verdict, why, alpha, alpha)


def binary_verdict(
    stats: BinaryStats,
    max_drop: float,
    alpha: float,
    min_samples: int,
    design_drop: float | None = None,
    *,
    design_baseline: float = DEFAULT_DESIGN_BASELINE,
) -> Verdict:
    """binary_gate's verdict alone, without the bounds: cheap enough for simulations."""
    _check(stats, max_drop, alpha, min_samples)
    bets = fast_bets(max_drop, design_drop, design_baseline)
    return _decide(stats, max_drop, alpha, min_samples, bets)[0]


def fast_bets(max_drop: float, design_drop: float | None, design_baseline: float) -> sprt.Bets:
    """The SPRT family: the given design alone, or a large drop mixed with 2 x max_drop."""
    if not 0.0 < design_baseline < 1.0:
        raise ValueError(f"design_baseline must be in (0, 1), got {design_baseline}")
    if design_drop is not None:
        if not 0.0 < design_drop < 1.0:
            raise ValueError(f"design_drop must be in (0, 1), got {design_drop}")
        return ((sprt.design_lambda(design_drop, design_baseline), 1.0),)
    big = sprt.design_lambda(DEFAULT_DESIGN_DROP, design_baseline)
    small_drop = max(2 * max_drop, 0.04)
    if small_drop > 0.6 * DEFAULT_DESIGN_DROP:
        return ((sprt.design_lambda(max(DEFAULT_DESIGN_DROP, small_drop), design_baseline), 1.0),)
    small = sprt.design_lambda(small_drop, design_baseline)
    return ((big, 1.0 - SMALL_DESIGN_WEIGHT), (small, SMALL_DESIGN_WEIGHT))


def fails_fast(stats: BinaryStats, alpha: float, bets: sprt.Bets) -> bool:
    threshold = sprt.fail_threshold(bets, (1.0 - FAIL_BROAD_SHARE) * alpha)
    return sprt.score(stats.baseline_only, stats.canary_only, bets) >= threshold


def fails_beyond_tolerance(stats: BinaryStats, max_drop: float, alpha: float) -> bool:
    # H0: E[X] >= -max_drop is H0: E[-X] <= max_drop; -X swaps the two discordant counts.
    capital = betting.log_capital(stats.canary_only, stats.ties, stats.baseline_only, max_drop)
    return capital >= math.log(1.0 / (FAIL_BROAD_SHARE * alpha))


def passes(stats: BinaryStats, max_drop: float, alpha: float) -> bool:
    capital = betting.log_capital(stats.baseline_only, stats.ties, stats.canary_only, -max_drop)
    return capital >= math.log(1.0 / alpha)


def failure(stats: BinaryStats, max_drop: float, alpha: float, bets: sprt.Bets) -> str | None:
    """Why the canary fails at alpha (the SPRT, then the backstop), or None."""
    if fails_fast(stats, alpha, bets):
        return f"{stats.baseline_only} vs {stats.canary_only} discordant pairs"
    if fails_beyond_tolerance(stats, max_drop, alpha):
        return f"more than {max_drop:g} below baseline"
    return None


def _decide(
    stats: BinaryStats,
    max_drop: float,
    alpha: float,
    min_samples: int,
    bets: sprt.Bets,
) -> tuple[Verdict, str]:
    if stats.n < min_samples or stats.n == 0:
        return Verdict.INCONCLUSIVE, f"{max(min_samples - stats.n, 1)} more pairs before a verdict"
    failed = failure(stats, max_drop, alpha, bets)
    if failed is not None:
        return Verdict.FAIL, failed
    if passes(stats, max_drop, alpha):
        return Verdict.PASS, f"at most {max_drop:g} below baseline"
    return Verdict.INCONCLUSIVE, "no verdict yet"


def binary_result(
    gate: str,
    stats: BinaryStats,
    verdict: Verdict,
    why: str,
    lower_alpha: float,
    upper_alpha: float,
) -> GateResult:
    """Rates from the counts; the betting sequence's bounds, each side at its own level."""
    n = stats.n
    base = (stats.both + stats.baseline_only) / n if n else 0.0
    can = (stats.both + stats.canary_only) / n if n else 0.0
    minus, zero, plus = stats.baseline_only, stats.ties, stats.canary_only
    lower = betting.lower_bound(minus, zero, plus, lower_alpha) if n else -1.0
    upper = betting.upper_bound(minus, zero, plus, upper_alpha) if n else 1.0
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
    if (
        parts != stats.n
        or min(stats.both, stats.baseline_only, stats.canary_only, stats.neither) < 0
    ):
        raise ValueError(f"inconsistent counts: {stats}")
