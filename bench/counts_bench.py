"""False rollbacks and windows to rollback: the count gates' rate test against fixed thresholds.

    python bench/counts_bench.py [--quick] [--seed N]

Simulated production traffic: a window every 30 s at 2 requests/s in total (Poisson, mean 60
a window), split by the step plan 5% x 10 windows, 25% x 10, 50% x 10; binomial errors per
arm. Every method sees the same windows and rolls back at most once in the 30:

- ours: `accumulate` / `rejects` from imagerollout.core.judge.counts, one count gate
  (alpha 0.05, maxRatio 1). As in core/metric_windows.py every window adds evidence, but the
  gate can only Fail in a conclusive window, where both arms have at least minCount requests
  (default 20); "minCount 0" lifts that guard. (With k count gates each gets alpha / k.)
- Flagger-style threshold: a window fails when the canary's error rate exceeds 5% (no
  canary requests: no failure); roll back at the `threshold`-th failed window (cumulative).
- naive z-test: one-sided pooled two-proportion z-test of canary against baseline on each
  window's counts alone, alpha 0.05, roll back on the first rejection.

Targets (printed PASS/FAIL, never asserted): ours rolls back at most alpha of the A/A runs.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from imagerollout.core.judge.counts import CountWindow, accumulate, rejects

ALPHA = 0.05
MAX_RATIO = 1.0
MIN_COUNT = 20  # MetricGate.min_count's default
WINDOW_SECONDS = 30
RPS = 2.0
PLAN = (5,) * 10 + (25,) * 10 + (50,) * 10  # canary weight (%) of each window
FLAGGER_MAX_RATE = 0.05
Z_CRIT = NormalDist().inv_cdf(1 - ALPHA)
Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Scenario:
    name: str
    p_baseline: float
    p_canary: float
    runs: int

    @property
    def null(self) -> bool:
        return self.p_baseline == self.p_canary


@dataclass(frozen=True)
class Traffic:
    """Per run and window: requests and errors of each arm."""

    canary_requests: Ints
    canary_errors: Ints
    baseline_requests: Ints
    baseline_errors: Ints


@dataclass(frozen=True)
class Outcomes:
    """Per run: the 1-based window of the rollback, 0 when none within the plan."""

    method: str
    window: Ints


def simulate(rng: np.random.Generator, s: Scenario) -> Traffic:
    shape = (s.runs, len(PLAN))
    total = rng.poisson(RPS * WINDOW_SECONDS, shape)
    share = np.array(PLAN, dtype=np.float64) / 100
    n_c = rng.binomial(total, share)
    n_b = total - n_c
    e_c = rng.binomial(n_c, s.p_canary)
    e_b = rng.binomial(n_b, s.p_baseline)
    return Traffic(*(np.asarray(a, dtype=np.int64) for a in (n_c, e_c, n_b, e_b)))


def first_true(hit: Bools) -> Ints:
    """1-based index of the first True per row, or 0 when none."""
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.int64)


def ours(t: Traffic) -> tuple[Outcomes, Outcomes]:
    """The real rate test after every window; with the minCount guard and without it."""
    guarded, unguarded = [], []
    rows = zip(
        t.canary_errors.tolist(),
        t.canary_requests.tolist(),
        t.baseline_errors.tolist(),
        t.baseline_requests.tolist(),
        strict=True,
    )
    for e_c, n_c, e_b, n_b in rows:
        evidence: list[float] = []
        first_any = first_conclusive = 0
        for w, window in enumerate(map(CountWindow, e_c, n_c, e_b, n_b), start=1):
            evidence = accumulate(evidence, window, MAX_RATIO)
            if not rejects(evidence, ALPHA):
                continue
            first_any = first_any or w
            if window.canary_requests >= MIN_COUNT and window.baseline_requests >= MIN_COUNT:
                first_conclusive = w
                break
        guarded.append(first_conclusive)
        unguarded.append(first_any)
    return (
        Outcomes(f"ours (minCount {MIN_COUNT})", np.array(guarded, dtype=np.int64)),
        Outcomes("ours (minCount 0)", np.array(unguarded, dtype=np.int64)),
    )


def flagger(t: Traffic, threshold: int) -> Outcomes:
    n_c, e_c = t.canary_requests, t.canary_errors
    failed = (n_c > 0) & (e_c > FLAGGER_MAX_RATE * n_c)
    hit = np.cumsum(failed, axis=1) >= threshold
    return Outcomes(f"Flagger >{FLAGGER_MAX_RATE:.0%}, threshold {threshold}", first_true(hit))


def naive_z(t: Traffic) -> Outcomes:
    n_c, n_b = t.canary_requests, t.baseline_requests
    e_c, e_b = t.canary_errors, t.baseline_errors
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (e_c + e_b) / (n_c + n_b)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_b))
        z = (e_c / n_c - e_b / n_b) / se
    usable = (n_c > 0) & (n_b > 0) & (se > 0)
    return Outcomes("naive z-test every window", first_true(usable & (z > Z_CRIT)))


def rollback_rate(o: Outcomes) -> float:
    return float(np.mean(o.window > 0))


def mean_windows(o: Outcomes) -> float:
    hits = o.window[o.window > 0]
    return float(hits.mean()) if hits.size else math.nan


HEADER = (
    f"{'method':<32}{'rollback':>9}{'@5%':>7}{'@25%':>7}{'@50%':>7}{'mean w':>8}{'p95 w':>7}"
    f"{'mean min':>9}"
)


def row(o: Outcomes) -> str:
    w = o.window
    hits = w[w > 0]
    weights = np.array((0, *PLAN))[w]
    at = [float(np.mean((w > 0) & (weights == pct))) for pct in (5, 25, 50)]
    if hits.size:
        mean, p95 = float(hits.mean()), float(np.percentile(hits, 95))
        timing = f"{mean:8.1f}{p95:7.0f}{mean * WINDOW_SECONDS / 60:9.1f}"
    else:
        timing = f"{'-':>8}{'-':>7}{'-':>9}"
    return f"{o.method:<32}{rollback_rate(o):9.3f}{at[0]:7.3f}{at[1]:7.3f}{at[2]:7.3f}{timing}"


def ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}" if b > 0 else ("inf" if a > 0 else "-")


def run_scenario(s: Scenario, rng: np.random.Generator) -> list[Outcomes]:
    t = simulate(rng, s)
    guarded, unguarded = ours(t)
    results = [guarded, unguarded, flagger(t, 5), flagger(t, 1), naive_z(t)]
    print(
        f"\n{s.name}: baseline {s.p_baseline:g}, canary {s.p_canary:g}, runs {s.runs}, "
        f"errors expected per run: canary {s.p_canary * _canary_requests():.1f}, "
        f"baseline {s.p_baseline * _baseline_requests():.1f}"
    )
    print(HEADER)
    for o in results:
        print(row(o))
    if s.null:
        floor = 1 / s.runs  # a zero rate of ours counts as one run, so "x ours" is a lower bound
        base = max(rollback_rate(guarded), floor)
        mark = ">=" if rollback_rate(guarded) == 0 else ""
        parts = [f"{o.method} {mark}{rollback_rate(o) / base:.1f}" for o in results[2:]]
        print(f"  false rollbacks / ours (minCount {MIN_COUNT}): " + "; ".join(parts))
    else:
        flagger5 = results[2]
        for mine in (guarded, unguarded):
            print(
                f"  {mine.method} / Flagger threshold 5: mean windows to rollback "
                f"{ratio(mean_windows(mine), mean_windows(flagger5))}, power "
                f"{ratio(rollback_rate(mine), rollback_rate(flagger5))}"
            )
    return results


def _canary_requests() -> float:
    return RPS * WINDOW_SECONDS * sum(PLAN) / 100


def _baseline_requests() -> float:
    return RPS * WINDOW_SECONDS * len(PLAN) - _canary_requests()


def report_targets(nulls: list[tuple[Scenario, list[Outcomes]]]) -> None:
    print("\ntargets")
    for s, results in nulls:
        se = math.sqrt(ALPHA * (1 - ALPHA) / s.runs)
        for o in results[:2]:
            rate = rollback_rate(o)
            ok = rate <= ALPHA + 3 * se
            print(
                f"  {'PASS' if ok else 'FAIL'}  {s.name}, {o.method}: false rollbacks {rate:.4f} "
                f"<= alpha {ALPHA} (+ 3 SE = {ALPHA + 3 * se:.4f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 runs per scenario, for CI")
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    runs = 300 if args.quick else 2000
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(
        f"{len(PLAN)} windows of {WINDOW_SECONDS}s at {RPS:g} req/s; canary weight 5% x 10, "
        f"25% x 10, 50% x 10; alpha {ALPHA}, maxRatio {MAX_RATIO:g}"
    )
    print("@5%/@25%/@50%: share of runs rolled back at that weight; w: windows to rollback")
    scenarios = [
        Scenario("A/A 2%", 0.02, 0.02, runs),
        Scenario("A/A 8%", 0.08, 0.08, runs),
        Scenario("regression 2% -> 6% (3x)", 0.02, 0.06, runs),
        Scenario("regression 2% -> 4% (2x)", 0.02, 0.04, runs),
        Scenario("regression 0.1% -> 1% (10x)", 0.001, 0.01, runs),
    ]
    nulls = []
    for s in scenarios:
        results = run_scenario(s, rng)
        if s.null:
            nulls.append((s, results))
    report_targets(nulls)
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
