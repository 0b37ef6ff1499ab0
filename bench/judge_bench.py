"""Samples to decision and error rates: the judge against Wald's SPRT and fixed/naive z-tests.

    python bench/judge_bench.py [--quick] [--seed N]

Every method sees the same simulated pairs (independent arms, Bernoulli per image). Wald's
two-arm SPRT on discordant pairs (alpha 0.05, beta 0.2, designed at the true effect) is the
limit; the judge is `binary_verdict` (the verdict of `binary_gate`) checked after every pair.
Targets (printed PASS/FAIL, never asserted): at the design effect the judge's mean samples to
Fail within 1.25x the SPRT's mean, and on A/A at most alpha false rollbacks.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from imagerollout.core.judge import BinaryStats, Verdict, binary_verdict

ALPHA = 0.05
BETA = 0.2
FAIL, PASS, NONE = 0, 1, 2
Z = NormalDist()
WORKERS = max(1, min(2, os.cpu_count() or 1))
Bools = NDArray[np.bool_]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class Scenario:
    name: str
    p0: float
    p1: float
    max_drop: float
    max_samples: int
    runs: int


@dataclass(frozen=True)
class Outcomes:
    """Per run: FAIL / PASS / NONE and the samples used (max_samples when NONE)."""

    method: str
    decision: Ints
    samples: Ints


def simulate(rng: np.random.Generator, s: Scenario) -> tuple[Bools, Bools]:
    shape = (s.runs, s.max_samples)
    return rng.random(shape) < s.p0, rng.random(shape) < s.p1


def first_true(hit: Bools) -> Ints:
    """1-based index of the first True per row, or 0 when none."""
    any_hit = hit.any(axis=1)
    return np.where(any_hit, hit.argmax(axis=1) + 1, 0).astype(np.int64)


def wald_sprt(s: Scenario, base: Bools, can: Bools, design: tuple[float, float]) -> Outcomes:
    p0, p1 = design
    theta1 = p0 * (1 - p1) / (p0 * (1 - p1) + (1 - p0) * p1)
    step_b, step_c = math.log(2 * theta1), math.log(2 * (1 - theta1))
    llr = np.cumsum((base & ~can) * step_b + (~base & can) * step_c, axis=1)
    upper, lower = math.log((1 - BETA) / ALPHA), math.log(BETA / (1 - ALPHA))
    rej, acc = first_true(llr >= upper), first_true(llr <= lower)
    rej_first = (rej > 0) & ((acc == 0) | (rej < acc))
    acc_first = (acc > 0) & ~rej_first
    decision = np.where(rej_first, FAIL, np.where(acc_first, PASS, NONE))
    samples = np.where(rej_first, rej, np.where(acc_first, acc, s.max_samples))
    return Outcomes("Wald SPRT, discordant pairs", decision, samples)


def z_scores(base: Bools, can: Bools) -> NDArray[np.float64]:
    """Pooled two-proportion z (canary - baseline) after each sample."""
    n = np.arange(1, base.shape[1] + 1)
    pb, pc = np.cumsum(base, axis=1) / n, np.cumsum(can, axis=1) / n
    pooled = (pb + pc) / 2
    se = np.sqrt(np.maximum(2 * pooled * (1 - pooled) / n, 1e-12))
    return np.asarray((pc - pb) / se, dtype=np.float64)


def fixed_n(p0: float, p1: float) -> int:
    """Per-arm n for a one-sided two-proportion z-test at ALPHA with power 1 - BETA."""
    pbar = (p0 + p1) / 2
    za, zb = Z.inv_cdf(1 - ALPHA), Z.inv_cdf(1 - BETA)
    root = za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return math.ceil(root**2 / (p0 - p1) ** 2)


def fixed_z(s: Scenario, base: Bools, can: Bools, n: int) -> Outcomes:
    z = z_scores(base[:, :n], can[:, :n])[:, -1]
    decision = np.where(z <= -Z.inv_cdf(1 - ALPHA), FAIL, PASS)
    return Outcomes(f"fixed-horizon z-test, n={n}", decision, np.full(s.runs, n))


def repeated_z(s: Scenario, base: Bools, can: Bools, every: int) -> Outcomes:
    z = z_scores(base, can)[:, every - 1 :: every]
    hit = first_true(z <= -Z.inv_cdf(1 - ALPHA))
    decision = np.where(hit > 0, FAIL, NONE)
    samples = np.where(hit > 0, hit * every, s.max_samples)
    return Outcomes(f"naive z-test every {every}", decision, samples)


def judge_runs(s: Scenario, base: Bools, can: Bools, design_drop: float | None) -> Outcomes:
    """Checks binary_verdict after every pair, runs split over the available cores."""
    chunks = np.array_split(np.arange(s.runs), WORKERS)
    jobs = [(s, base[idx], can[idx], design_drop) for idx in chunks]
    with ProcessPoolExecutor(WORKERS) as pool:
        parts = list(pool.map(judge_chunk, jobs))
    decision = np.concatenate([p[0] for p in parts])
    samples = np.concatenate([p[1] for p in parts])
    label = f"design drop {design_drop:g}" if design_drop is not None else "default designs"
    return Outcomes(f"judge ({label})", decision, samples)


def judge_chunk(job: tuple[Scenario, Bools, Bools, float | None]) -> tuple[Ints, Ints]:
    s, base, can, design_drop = job
    decided = [judge_one(s, b, c, design_drop) for b, c in zip(base, can, strict=True)]
    return (
        np.array([d for d, _ in decided], dtype=np.int64),
        np.array([n for _, n in decided], dtype=np.int64),
    )


def judge_one(s: Scenario, base: Bools, can: Bools, design_drop: float | None) -> tuple[int, int]:
    kinds = (base.astype(np.int64) * 2 + can.astype(np.int64)).tolist()
    counts = [0, 0, 0, 0]  # neither, canary_only, baseline_only, both
    for n, kind in enumerate(kinds, start=1):
        counts[kind] += 1
        stats = BinaryStats(n, counts[3], counts[2], counts[1], counts[0])
        verdict = binary_verdict(stats, s.max_drop, ALPHA, 1, design_drop)
        if verdict is Verdict.FAIL:
            return FAIL, n
        if verdict is Verdict.PASS:
            return PASS, n
    return NONE, s.max_samples


HEADER = (
    f"{'method':<34}{'Fail':>7}{'Pass':>7}{'none':>7}{'mean n':>9}{'p50':>6}{'p80':>6}"
    f"{'p95':>6}{'n|Fail':>9}{'x SPRT':>8}"
)


def row(o: Outcomes, sprt_mean: float) -> str:
    rates = [float(np.mean(o.decision == k)) for k in (FAIL, PASS, NONE)]
    p50, p80, p95 = np.percentile(o.samples, [50, 80, 95])
    fails = o.samples[o.decision == FAIL]
    to_fail = f"{fails.mean():9.1f}" if fails.size else f"{'-':>9}"
    mean = float(o.samples.mean())
    return (
        f"{o.method:<34}{rates[0]:7.3f}{rates[1]:7.3f}{rates[2]:7.3f}{mean:9.1f}"
        f"{p50:6.0f}{p80:6.0f}{p95:6.0f}{to_fail}{mean / sprt_mean:8.2f}"
    )


def run_scenario(
    s: Scenario, rng: np.random.Generator, designs: list[float | None]
) -> list[Outcomes]:
    base, can = simulate(rng, s)
    design = (s.p0, s.p1) if s.p0 != s.p1 else (s.p0, s.p0 - 0.28)
    sprt = wald_sprt(s, base, can, design)
    results = [sprt]
    results += [judge_runs(s, base, can, d) for d in designs]
    results.append(fixed_z(s, base, can, fixed_n(*design)))
    results += [repeated_z(s, base, can, every) for every in (1, 10)]
    sprt_mean = float(sprt.samples.mean())
    print(
        f"\n{s.name}: p0 {s.p0} p1 {s.p1}, alpha {ALPHA}, max_drop {s.max_drop}, "
        f"max_samples {s.max_samples}, runs {s.runs}"
    )
    print(HEADER)
    for o in results:
        print(row(o, sprt_mean))
    return results


def mean_to_fail(o: Outcomes) -> float:
    fails = o.samples[o.decision == FAIL]
    return float(fails.mean()) if fails.size else math.inf


def verdict_line(text: str, ok: bool) -> None:
    print(f"  {'PASS' if ok else 'FAIL'}  {text}")


def report_targets(big: list[Outcomes], null: list[Outcomes], null_runs: int) -> None:
    sprt, judge = big[0], big[1]
    sprt_all, sprt_fail, ours = float(sprt.samples.mean()), mean_to_fail(sprt), mean_to_fail(judge)
    print("\ntargets")
    verdict_line(
        f"0.89 -> 0.61 at the design effect: judge mean samples to Fail {ours:.1f} "
        f"<= 1.25 x SPRT mean samples {sprt_all:.1f} (ratio {ours / sprt_all:.2f})",
        ours <= 1.25 * sprt_all,
    )
    verdict_line(
        f"  same, against the SPRT's mean samples to Fail {sprt_fail:.1f} "
        f"(ratio {ours / sprt_fail:.2f}; the SPRT accepts {np.mean(sprt.decision == PASS):.1%} "
        f"of these regressions, the judge {np.mean(judge.decision != FAIL):.1%})",
        ours <= 1.25 * sprt_fail,
    )
    se = math.sqrt(ALPHA * (1 - ALPHA) / null_runs)
    for judge_null in null[1:3]:
        false_fail = float(np.mean(judge_null.decision == FAIL))
        passed = float(np.mean(judge_null.decision == PASS))
        verdict_line(
            f"A/A false rollbacks, {judge_null.method}: {false_fail:.4f} <= alpha {ALPHA} "
            f"(+ 3 SE = {ALPHA + 3 * se:.4f}), checked after every pair; "
            f"{passed:.1%} pass within max_samples",
            false_fail <= ALPHA + 3 * se,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, for CI (< 30 s)")
    parser.add_argument("--seed", type=int, default=20240603)
    args = parser.parse_args()
    div = 10 if args.quick else 1
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    big = run_scenario(
        Scenario("big regression", 0.89, 0.61, 0.03, 400, 20000 // div), rng, [0.28, None]
    )
    subtle = Scenario("subtle regression", 0.89, 0.84, 0.03, 4000, 1000 // div)
    run_scenario(subtle, rng, [0.05, None])
    tolerated = Scenario("drop within tolerance", 0.89, 0.87, 0.03, 2000, 500 // div)
    run_scenario(tolerated, rng, [0.28, None])
    null_runs = 2000 // div
    null = run_scenario(Scenario("A/A", 0.89, 0.89, 0.05, 2000, null_runs), rng, [0.28, None])
    report_targets(big, null, null_runs)
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
