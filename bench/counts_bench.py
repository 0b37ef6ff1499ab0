"""False rollbacks, time to rollback and time to promotion: the count gates' rate test against
fixed thresholds.

    python bench/counts_bench.py [--quick] [--seed N]

Simulated production traffic: an evaluation every 30 s (the default `interval`) at 2
requests/s in total (Poisson, mean 60 an interval; one scenario at 0.5/s), split by the
canary weight; binomial errors per arm. Each run lasts at most 60 intervals (30 min).

- ours: `accumulate` / `rejects` from imagerollout.core.judge.counts, one count gate
  (alpha 0.05, maxRatio 1), stepped as core/metrics/windows.py and core/metrics/gating.py do.
  The gate's window stays open (Inconclusive "collecting") while either arm has fewer than
  minCount requests (default 20); the next evaluation covers the longer window since the last
  close. When both arms have minCount, the window closes: its counts are added to the
  evidence once and the gate fails if the evidence rejects. A step completes after minWindows
  (2) closed, passing windows: 5% -> 25% -> 50%, and promotion once the 50% step completes
  (at 100% nothing is compared). A step change opens a new window, so an unfinished window is
  dropped; with one gate the step only changes as its window closes, so none is. Evidence
  carries across steps. "minCount 0" lifts the guard: every window closes, so the three steps
  take 6 intervals. (With k count gates each gets alpha / k.)
- baselines, on the FIXED plan 5% x 10 intervals, 25% x 10, 50% x 10 (promotion at 15 min
  whatever the data), not on ours' timeline; they see the same traffic at each interval and
  weight as ours (common random numbers):
  - Flagger-style threshold: an interval fails when the canary's error rate exceeds 5% (no
    canary requests: no failure); roll back at the `threshold`-th failed one (cumulative).
  - naive z-test: one-sided pooled two-proportion z-test of canary against baseline on each
    interval's counts alone, alpha 0.05, roll back on the first rejection.

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
MIN_WINDOWS = 2  # MetricsAnalysis.min_windows's default
INTERVAL_SECONDS = 30  # MetricsAnalysis.interval's default
INTERVALS = 60  # cap on a run: 30 min
WEIGHTS = (5, 25, 50)  # the steps with both arms serving users
FIXED_PLAN = (5,) * 10 + (25,) * 10 + (50,) * 10  # the baselines' canary weight per interval
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
    rps: float = 2.0

    @property
    def null(self) -> bool:
        return self.p_baseline == self.p_canary


@dataclass(frozen=True)
class Traffic:
    """Requests and errors of each arm: shape (weight, run, interval) from `simulate`, where
    weight indexes WEIGHTS; shape (run, interval) from `fixed`."""

    canary_requests: Ints
    canary_errors: Ints
    baseline_requests: Ints
    baseline_errors: Ints

    def fixed(self) -> Traffic:
        """The baselines' windows: interval i at weight FIXED_PLAN[i]."""
        step = np.array([WEIGHTS.index(w) for w in FIXED_PLAN])
        at = np.arange(len(FIXED_PLAN))
        return Traffic(
            self.canary_requests[step, :, at].T,
            self.canary_errors[step, :, at].T,
            self.baseline_requests[step, :, at].T,
            self.baseline_errors[step, :, at].T,
        )


@dataclass(frozen=True)
class Outcomes:
    """Per run: 1-based interval of the rollback (0: none) and the weight then; 1-based
    interval at which the 50% step completed (0: rolled back or not within the cap); canary
    requests served until the rollback, the promotion or the cap."""

    method: str
    rollback: Ints
    weight: Ints
    promoted: Ints
    canary_served: Ints


def simulate(rng: np.random.Generator, s: Scenario, intervals: int = INTERVALS) -> Traffic:
    total = rng.poisson(s.rps * INTERVAL_SECONDS, (s.runs, intervals))
    share = np.array(WEIGHTS, dtype=np.float64)[:, None, None] / 100
    n_c = rng.binomial(total, share)
    n_b = total - n_c
    e_c = rng.binomial(n_c, s.p_canary)
    e_b = rng.binomial(n_b, s.p_baseline)
    return Traffic(*(np.asarray(a, dtype=np.int64) for a in (n_c, e_c, n_b, e_b)))


def first_true(hit: Bools) -> Ints:
    """1-based index of the first True per row, or 0 when none."""
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.int64)


def ours(t: Traffic, min_count: int) -> Outcomes:
    """The real rate test, with windows that close once both arms have min_count requests."""
    columns = [
        a.transpose(1, 0, 2).tolist()
        for a in (t.canary_errors, t.canary_requests, t.baseline_errors, t.baseline_requests)
    ]
    rollback, weight, promoted, served = [], [], [], []
    for e_c, n_c, e_b, n_b in zip(*columns, strict=True):
        outcome = _one_run(e_c, n_c, e_b, n_b, min_count)
        rollback.append(outcome[0])
        weight.append(outcome[1])
        promoted.append(outcome[2])
        served.append(outcome[3])
    return Outcomes(
        f"ours (minCount {min_count})",
        *(np.array(a, dtype=np.int64) for a in (rollback, weight, promoted, served)),
    )


def _one_run(
    e_c: list[list[int]],
    n_c: list[list[int]],
    e_b: list[list[int]],
    n_b: list[list[int]],
    min_count: int,
) -> tuple[int, int, int, int]:
    """(rollback interval, weight, promotion interval, canary served); each list is
    [weight][interval]."""
    evidence: list[float] = []
    step = closed = served = 0
    window = [0, 0, 0, 0]  # the open window's e_c, n_c, e_b, n_b
    for i in range(len(e_c[0])):
        now = (e_c[step][i], n_c[step][i], e_b[step][i], n_b[step][i])
        window = [a + b for a, b in zip(window, now, strict=True)]
        served += now[1]
        if window[1] < min_count or window[3] < min_count:
            continue  # collecting: the window stays open
        evidence = accumulate(evidence, CountWindow(*window), MAX_RATIO)
        window = [0, 0, 0, 0]  # closed: the next window starts now
        if rejects(evidence, ALPHA):
            return i + 1, WEIGHTS[step], 0, served
        closed += 1
        if closed == MIN_WINDOWS:
            step, closed = step + 1, 0
            window = [0, 0, 0, 0]  # a step change drops the open window (empty here)
            if step == len(WEIGHTS):
                return 0, 0, i + 1, served
    return 0, 0, 0, served


def _fixed_outcomes(method: str, t: Traffic, rollback: Ints) -> Outcomes:
    plan = np.array((0, *FIXED_PLAN), dtype=np.int64)
    served = np.concatenate(
        [np.zeros((len(rollback), 1), np.int64), t.canary_requests.cumsum(1)], 1
    )
    end = np.where(rollback > 0, rollback, len(FIXED_PLAN))
    promoted = np.where(rollback > 0, 0, len(FIXED_PLAN)).astype(np.int64)
    canary_served = served[np.arange(len(rollback)), end]
    return Outcomes(method, rollback, plan[rollback], promoted, canary_served)


def flagger(t: Traffic, threshold: int) -> Outcomes:
    n_c, e_c = t.canary_requests, t.canary_errors
    failed = (n_c > 0) & (e_c > FLAGGER_MAX_RATE * n_c)
    hit = np.cumsum(failed, axis=1) >= threshold
    method = f"Flagger >{FLAGGER_MAX_RATE:.0%}, threshold {threshold}"
    return _fixed_outcomes(method, t, first_true(hit))


def naive_z(t: Traffic) -> Outcomes:
    n_c, n_b = t.canary_requests, t.baseline_requests
    e_c, e_b = t.canary_errors, t.baseline_errors
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (e_c + e_b) / (n_c + n_b)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_b))
        z = (e_c / n_c - e_b / n_b) / se
    usable = (n_c > 0) & (n_b > 0) & (se > 0)
    return _fixed_outcomes("naive z-test every interval", t, first_true(usable & (z > Z_CRIT)))


def rollback_rate(o: Outcomes) -> float:
    return float(np.mean(o.rollback > 0))


def minutes(intervals: Ints) -> float:
    """Mean minutes of the nonzero intervals; NaN when none."""
    hits = intervals[intervals > 0]
    return float(hits.mean()) * INTERVAL_SECONDS / 60 if hits.size else math.nan


HEADER = (
    f"{'method':<32}{'rollback':>9}{'@5%':>7}{'@25%':>7}{'@50%':>7}{'rb min':>8}{'p95':>6}"
    f"{'promoted':>9}{'pr min':>8}{'p95':>6}{'canary n':>9}"
)


def _timing(intervals: Ints) -> str:
    hits = intervals[intervals > 0]
    if not hits.size:
        return f"{'-':>8}{'-':>6}"
    p95 = float(np.percentile(hits, 95)) * INTERVAL_SECONDS / 60
    return f"{minutes(intervals):8.1f}{p95:6.1f}"


def row(o: Outcomes) -> str:
    at = [float(np.mean((o.rollback > 0) & (o.weight == pct))) for pct in WEIGHTS]
    return (
        f"{o.method:<32}{rollback_rate(o):9.3f}{at[0]:7.3f}{at[1]:7.3f}{at[2]:7.3f}"
        f"{_timing(o.rollback)}{float(np.mean(o.promoted > 0)):9.3f}{_timing(o.promoted)}"
        f"{float(o.canary_served.mean()):9.0f}"
    )


def ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}" if b > 0 else ("inf" if a > 0 else "-")


def run_scenario(s: Scenario, rng: np.random.Generator) -> list[Outcomes]:
    t = simulate(rng, s)
    fixed = t.fixed()
    guarded, unguarded = ours(t, MIN_COUNT), ours(t, 0)
    results = [guarded, unguarded, flagger(fixed, 5), flagger(fixed, 1), naive_z(fixed)]
    canary = s.rps * INTERVAL_SECONDS * sum(FIXED_PLAN) / 100
    baseline = s.rps * INTERVAL_SECONDS * len(FIXED_PLAN) - canary
    print(
        f"\n{s.name}: baseline {s.p_baseline:g}, canary {s.p_canary:g}, {s.rps:g} req/s, "
        f"runs {s.runs}; errors expected in the fixed plan: canary {s.p_canary * canary:.1f}, "
        f"baseline {s.p_baseline * baseline:.1f}"
    )
    print(HEADER)
    for o in results:
        print(row(o))
    stuck = [f"{o.method} {np.mean((o.rollback == 0) & (o.promoted == 0)):.3f}" for o in results]
    print("  neither within the cap: " + "; ".join(stuck[:2]))
    if s.null:
        floor = 1 / s.runs  # a zero rate of ours counts as one run, so "x ours" is a lower bound
        base = max(rollback_rate(guarded), floor)
        mark = ">=" if rollback_rate(guarded) == 0 else ""
        parts = [f"{o.method} {mark}{rollback_rate(o) / base:.1f}" for o in results[2:]]
        print(f"  false rollbacks / ours (minCount {MIN_COUNT}): " + "; ".join(parts))
        print(
            f"  minutes to promotion, ours (minCount {MIN_COUNT}) / ours (minCount 0) "
            f"{ratio(minutes(guarded.promoted), minutes(unguarded.promoted))}, "
            f"/ fixed plan {ratio(minutes(guarded.promoted), len(FIXED_PLAN) / 2)}"
        )
    else:
        flagger5 = results[2]
        for mine in (guarded, unguarded):
            print(
                f"  {mine.method} / Flagger threshold 5: minutes to rollback "
                f"{ratio(minutes(mine.rollback), minutes(flagger5.rollback))}, power "
                f"{ratio(rollback_rate(mine), rollback_rate(flagger5))}, canary requests "
                f"{ratio(float(mine.canary_served.mean()), float(flagger5.canary_served.mean()))}"
            )
    return results


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


SIZING_MIN_COUNTS = (20, 60, 150)
SIZING_INTERVALS = 240  # 2 h: large minCounts need long windows at 5%


def sizing(runs: int, rng: np.random.Generator) -> None:
    """Exposure buys power: the same traffic judged with larger minCount values."""
    print(f"\nsizing at 2 req/s, runs capped at {SIZING_INTERVALS * INTERVAL_SECONDS // 60} min")
    columns = ("A/A rollback", "A/A promoted min", "3x power", "2x power")
    print(f"{'minCount':>8} " + " ".join(f"{c:>{len(c) + 1}}" for c in columns))
    cases = [Scenario(n, 0.02, p, runs) for n, p in (("A/A", 0.02), ("3x", 0.06), ("2x", 0.04))]
    traffic = [simulate(rng, c, SIZING_INTERVALS) for c in cases]
    for min_count in SIZING_MIN_COUNTS:
        aa, three, two = (ours(t, min_count) for t in traffic)
        print(
            f"{min_count:>8} {rollback_rate(aa):>13.3f} {minutes(aa.promoted):>17.1f} "
            f"{rollback_rate(three):>9.3f} {rollback_rate(two):>9.3f}"
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
        f"evaluations every {INTERVAL_SECONDS}s, at most {INTERVALS}; alpha {ALPHA}, "
        f"maxRatio {MAX_RATIO:g}, minWindows {MIN_WINDOWS}"
    )
    print(
        "ours: steps 5% -> 25% -> 50% after minWindows closed windows each; baselines: fixed "
        "plan 5% x 10, 25% x 10, 50% x 10 intervals (promotion at 15 min), same traffic"
    )
    print(
        "@5%/@25%/@50%: share of runs rolled back at that weight; rb/pr min: minutes to "
        "rollback/promotion (mean, p95); canary n: canary requests served until then"
    )
    scenarios = [
        Scenario("A/A 2%", 0.02, 0.02, runs),
        Scenario("A/A 8%", 0.08, 0.08, runs),
        Scenario("A/A 2%, low traffic", 0.02, 0.02, runs, rps=0.5),
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
    sizing(runs, rng)
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
