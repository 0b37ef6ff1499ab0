"""The paired continuous gate: a metric per image (edit distance, SSIM, latency, ...).

Each pair gives D = canary - baseline, which must lie in [-scale, scale] (pass `scale` to
`ContinuousStats.add` to clip). `bernstein` gives anytime-valid lower and upper bounds on
E[D] at level alpha each. With w = max_worsening, in the direction where higher is better:
Pass when the lower bound is above -w (worse by less than w), Fail when the upper bound is
below -w (worse by more than w). Each error has probability <= alpha at any stopping time,
so checking after every pair is safe; a canary equal to the baseline fails with probability
well below alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from imagerollout.core.judge import bernstein
from imagerollout.core.judge.types import GateResult, Verdict


@dataclass(frozen=True)
class ContinuousStats:
    """Running means and Welford's M2 of the differences; JSON-serialisable, restart-safe."""

    n: int = 0
    mean_b: float = 0.0
    mean_c: float = 0.0
    mean_d: float = 0.0
    m2_d: float = 0.0

    def add(self, baseline: float, canary: float, *, scale: float | None = None) -> ContinuousStats:
        if not (math.isfinite(baseline) and math.isfinite(canary)):
            raise ValueError(f"scores must be finite, got {baseline} and {canary}")
        diff = canary - baseline
        if scale is not None:
            diff = min(max(diff, -scale), scale)
        n = self.n + 1
        mean_d = self.mean_d + (diff - self.mean_d) / n
        return ContinuousStats(
            n=n,
            mean_b=self.mean_b + (baseline - self.mean_b) / n,
            mean_c=self.mean_c + (canary - self.mean_c) / n,
            mean_d=mean_d,
            m2_d=self.m2_d + (diff - self.mean_d) * (diff - mean_d),
        )


def continuous_gate(
    gate: str,
    stats: ContinuousStats,
    max_worsening: float,
    alpha: float,
    min_samples: int,
    higher_is_better: bool,
    scale: float,
) -> GateResult:
    _check(stats, max_worsening, alpha, min_samples, scale)
    lower = bernstein.lower_bound(stats.n, stats.mean_d, stats.m2_d, scale, alpha)
    upper = bernstein.upper_bound(stats.n, stats.mean_d, stats.m2_d, scale, alpha)
    verdict, why = _decide(stats, max_worsening, alpha, min_samples, higher_is_better, scale)
    reason = (
        f"canary {stats.mean_c:.4g} vs baseline {stats.mean_b:.4g}, "
        f"{verdict} after {stats.n} pairs ({why})"
    )
    return GateResult(
        gate, verdict, stats.n, stats.mean_b, stats.mean_c, stats.mean_d, lower, upper, reason
    )


def continuous_verdict(
    stats: ContinuousStats,
    max_worsening: float,
    alpha: float,
    min_samples: int,
    higher_is_better: bool,
    scale: float,
) -> Verdict:
    """continuous_gate's verdict alone, without the bounds: cheap enough for simulations."""
    _check(stats, max_worsening, alpha, min_samples, scale)
    return _decide(stats, max_worsening, alpha, min_samples, higher_is_better, scale)[0]


def _decide(
    stats: ContinuousStats,
    max_worsening: float,
    alpha: float,
    min_samples: int,
    higher_is_better: bool,
    scale: float,
) -> tuple[Verdict, str]:
    if stats.n < min_samples or stats.n == 0:
        return Verdict.INCONCLUSIVE, f"{max(min_samples - stats.n, 1)} more pairs before a verdict"
    # Orient so that larger is better: E = E[D] or E[-D]; worse by w means E < -w.
    sign = 1.0 if higher_is_better else -1.0
    mean, level = sign * stats.mean_d, math.log(1.0 / alpha)
    better_than = bernstein.log_capital(stats.n, mean, stats.m2_d, scale, -max_worsening)
    worse_than = bernstein.log_capital(stats.n, -mean, stats.m2_d, scale, max_worsening)
    if worse_than >= level:
        return Verdict.FAIL, f"worse by more than {max_worsening:g}"
    if better_than >= level:
        return Verdict.PASS, f"worse by at most {max_worsening:g}"
    return Verdict.INCONCLUSIVE, "no verdict yet"


def _check(
    stats: ContinuousStats, max_worsening: float, alpha: float, min_samples: int, scale: float
) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not scale > 0.0 or not max_worsening >= 0.0 or min_samples < 0:
        raise ValueError(
            f"need scale > 0, max_worsening >= 0, min_samples >= 0: {scale}, "
            f"{max_worsening}, {min_samples}"
        )
    values = (stats.mean_b, stats.mean_c, stats.mean_d, stats.m2_d)
    if not all(map(math.isfinite, values)):
        raise ValueError(f"stats must be finite: {stats}")
    if stats.n < 0 or stats.m2_d < 0.0 or abs(stats.mean_d) > scale * (1 + 1e-9):
        raise ValueError(f"differences outside [-{scale}, {scale}] or bad stats: {stats}")
