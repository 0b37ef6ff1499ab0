"""Gate sets end to end: the real judge against Kayenta, Flagger and a fixed-horizon test.

    python bench/gates_bench.py [--quick] [--runs N] [--seed S]

Each scenario simulates many rollouts. A stream holds one rollout's pairs in the order the
sampler probes them: each pair's stratum drawn with probability weight / sum(weights) from the
built-in suite, then both arms' scores. Every method sees the same streams. Two backgrounds:

- identical: the canary returns the baseline's very image (same text_passed, same sharpness);
  latency differs by an independent 2% jitter on a per-prompt latency (lognormal, sd 0.15);
- independent (A/A noise): two equally good models drawing different scenes for one prompt:
  text passes independently per arm, log10 sharpness is a per-pair scene mean plus noise
  (sd 0.15) per arm, latencies are independent lognormals (sd of log 0.15).

A regression goes on top: canary OCR rates per stratum, a canary error rate (ok=False), a
canary latency, or the measured blur shift of log10 sharpness. Sharpness is the raw variance
of the Laplacian (the gate judges log10(1 + v)); its scene distribution per stratum and the
blur's effect are measured first, by rendering the suite's prompts with the demo server's
renderer, clean and with GaussianBlur(2.5), and imagerollout.quality.perceptual.sharpness.

- judge: imagerollout.core.quality.analysis, as the sampler runs it: `record` one pair, then
  `evaluate` after every pair; stop at the first Rollback, Promote when every gate passes,
  Inconclusive at maxSamples (2000). The failing gate is the first Fail result at the
  rollback, a per-stratum name (`text/logos`) preferred.
- Kayenta (NetflixACAJudge, as in spinnaker/kayenta): every 20 pairs, on all pairs so far,
  per metric Kayenta's two-sided Mann-Whitney test with a 98% interval on the shift
  (R's asymptotic wilcox.test: average ranks, tie-corrected sigma, continuity correction).
  A metric is High (Low) when the interval's lower (upper) end lies beyond tolerance 0.25 x
  |Hodges-Lehmann estimate| in the harmful direction AND the mean ratio canary/baseline is at
  or beyond the allowed change (effectSize allowedIncrease / allowedDecrease; a NaN ratio,
  as with a baseline mean of 0, is ignored, as in Kayenta). The interval's ends are the roots
  of a step function found by Brent's method; we evaluate the statistic at the band edge
  instead (the end lies beyond the edge iff the test of that shift rejects at 2%: the test's
  duality with its interval), which also fixes the side of a root sitting on a step of 0/1
  data. Metrics: text accuracy per image (0/1, decrease, allowed 1 - margin / rate), error
  per request (0/1, increase, marked critical: a High fails the canary at once), latency of
  answered requests (increase, allowed 1.25 or 1 + margin / typical latency), raw sharpness
  (decrease, allowed 10^-0.3). Score = 100 x Pass / (Pass + High + Low). Below 75 (Marginal)
  rolls back at once; at the horizon (200 pairs) Promote if the score is >= 95, else roll
  back. With four metrics one bad non-critical metric scores 75: Marginal, so it waits for
  the horizon. Known limits: kayenta#780 (a rise in variance, not in location, passes) and
  kayenta#426 (sparse 0/1 data, such as rare errors, is misread: the shift estimate is 0 and
  the interval's end sits on a step at 0).
- Flagger-style: every 10 pairs, on those 10 pairs only: canary error rate <= 1%, canary p99
  latency <= 2 x the baseline's typical latency, canary OCR accuracy >= 0.85 (a metric with
  no data fails, as in Flagger). Roll back at the 5th failed check (threshold 5, counted over
  the analysis), promote after 10 passed checks (iterations 10). No perceptual check.
- fixed: a fixed-horizon paired test after 300 pairs, per gate of the scenario's gate set on
  the judge's oriented differences (canary - baseline, higher is better: text and errors per
  pair in {-1, 0, 1}, log latency ratio or seconds, log10 sharpness), unclipped, a one-sided
  z interval at alpha / gates each (Bonferroni): Rollback if any gate's upper bound is below
  -margin (significantly worse beyond the margin); Promote if every gate's lower bound is
  above -margin (non-inferior); otherwise Inconclusive.
- Wald (scenario 6 only): Wald's SPRT on the typography discordant pairs, designed at the
  true effect (0.89 -> 0.61), alpha = the typography cell's Fail alpha, beta 0.2, counted in
  total pairs.

Runs: --runs N per scenario (default 400, --quick 30); the A/A and logos scenarios, about
1200 and 250 pairs a run at 1.5-3 ms a pair for record + evaluate, run half as many. Run r of
scenario k draws from the seed sequence (seed, k, r), so results do not depend on the workers.

Targets (printed PASS/FAIL, never asserted) are the judge's; the comparators are reported with
pairs to decision, wrong decisions and their mean pairs as a multiple of the judge's.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from statistics import NormalDist, fmean, stdev

import numpy as np
from numpy.typing import NDArray

from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.controller.sampler.runner import strata_of
from imagerollout.core.judge import GateResult, Outcome, Verdict
from imagerollout.core.quality.analysis import (
    AnalysisState,
    applies,
    evaluate,
    planned_cells,
    record,
)
from imagerollout.core.quality.cells import CellJudge, StratumInfo
from imagerollout.core.quality.gates import (
    DEFAULT_GATES,
    METRICS,
    ArmScores,
    PairScores,
    difference,
    gates_of,
)
from imagerollout.demo.server import Knobs, render
from imagerollout.quality.perceptual import sharpness
from imagerollout.quality.suite import Suite, default_suite

# ---------------------------------------------------------------- simulated streams

Bools = NDArray[np.bool_]
Floats = NDArray[np.float64]
Ints = NDArray[np.int64]

SUITE: Suite = default_suite()
STRATA: tuple[StratumInfo, ...] = strata_of(SUITE)
WEIGHTS: Floats = np.array([s.weight for s in SUITE.strata], dtype=np.float64)
HAS_TEXT: Bools = np.array([s.has_text for s in STRATA], dtype=np.bool_)
NAMES: tuple[str, ...] = tuple(s.name for s in STRATA)
IMAGE_SIZE = 512  # Analysis.size's default
SCENE_NOISE = 0.15  # sd of log10 sharpness between two scenes of the same prompt
LATENCY_SPREAD = 0.15  # sd of log latency between prompts (and arms, when independent)
LATENCY_JITTER = 0.02  # sd of log latency of the same request served twice


@dataclass(frozen=True)
class SharpnessModel:
    """Per stratum (mean, sd) of clean log10(1 + v) over scenes; a blur's shift of it."""

    scenes: tuple[tuple[float, float], ...]
    blur_radius: float = 0.0
    blur_shift: tuple[float, float] = (0.0, 0.0)  # mean and sd of log10 ratio blurred/clean
    images: int = 0


@dataclass(frozen=True)
class Sim:
    """How one scenario's pairs are drawn; see the module docstring."""

    independent: bool = False
    text_rate: float = 0.9  # baseline OCR pass rate in every text stratum
    canary_text: dict[str, float] = field(default_factory=dict)  # stratum -> canary rate
    latency_s: tuple[float, float] = (2.2, 2.2)  # typical latency: baseline, canary
    canary_errors: float = 0.0
    blur: bool = False


@dataclass(frozen=True)
class Arm:
    ok: Bools
    text: Bools
    sharp: Floats  # raw variance of the Laplacian
    latency: Floats  # seconds


@dataclass(frozen=True)
class Stream:
    stratum: Ints  # index into STRATA
    has_text: Bools
    baseline: Arm
    canary: Arm

    def __len__(self) -> int:
        return int(self.stratum.size)

    def pair(self, i: int) -> PairScores:
        stratum, has_text = NAMES[int(self.stratum[i])], bool(self.has_text[i])
        return PairScores(
            stratum, has_text, _arm(self.baseline, i, has_text), _arm(self.canary, i, has_text)
        )


def _arm(arm: Arm, i: int, has_text: bool) -> ArmScores:
    latency = float(arm.latency[i])
    if not arm.ok[i]:
        return ArmScores(ok=False, latency_s=latency)
    text = bool(arm.text[i]) if has_text else None
    return ArmScores(ok=True, text_passed=text, sharpness=float(arm.sharp[i]), latency_s=latency)


def stream(rng: np.random.Generator, sim: Sim, model: SharpnessModel, n: int) -> Stream:
    """n pairs of one rollout, drawn as the sampler's plan draws them."""
    stratum = rng.choice(len(STRATA), size=n, p=WEIGHTS / WEIGHTS.sum()).astype(np.int64)
    text_b, text_c = _text(rng, sim, stratum)
    sharp_b, sharp_c = _sharpness(rng, sim, model, stratum)
    lat_b, lat_c = _latency(rng, sim, n)
    ok_c = rng.random(n) >= sim.canary_errors
    return Stream(
        stratum,
        HAS_TEXT[stratum],
        Arm(np.ones(n, dtype=np.bool_), text_b, sharp_b, lat_b),
        Arm(ok_c, text_c, sharp_c, lat_c),
    )


def _text(rng: np.random.Generator, sim: Sim, stratum: Ints) -> tuple[Bools, Bools]:
    rates = np.array([sim.canary_text.get(name, sim.text_rate) for name in NAMES])
    baseline = rng.random(stratum.size) < sim.text_rate
    if not sim.independent and not sim.canary_text:
        return baseline, baseline.copy()
    return baseline, rng.random(stratum.size) < rates[stratum]


def _sharpness(
    rng: np.random.Generator, sim: Sim, model: SharpnessModel, stratum: Ints
) -> tuple[Floats, Floats]:
    mean, sd = (np.array(column) for column in zip(*model.scenes, strict=True))
    n = stratum.size
    scene = mean[stratum] + sd[stratum] * rng.standard_normal(n)
    baseline = scene + SCENE_NOISE * rng.standard_normal(n)
    other_scene = scene + SCENE_NOISE * rng.standard_normal(n)
    canary = other_scene if sim.independent else baseline.copy()
    if sim.blur:
        shift_mean, shift_sd = model.blur_shift
        canary = canary + shift_mean + shift_sd * rng.standard_normal(n)
    return np.power(10.0, baseline) - 1.0, np.maximum(np.power(10.0, canary) - 1.0, 0.0)


def _latency(rng: np.random.Generator, sim: Sim, n: int) -> tuple[Floats, Floats]:
    typical_b, typical_c = (math.log(s) for s in sim.latency_s)
    if sim.independent:
        spread_b, spread_c = (LATENCY_SPREAD * rng.standard_normal(n) for _ in range(2))
    else:
        prompt = LATENCY_SPREAD * rng.standard_normal(n)
        spread_b, spread_c = (prompt + LATENCY_JITTER * rng.standard_normal(n) for _ in range(2))
    return np.exp(typical_b + spread_b), np.exp(typical_c + spread_c)


def measure_sharpness(seeds_per_prompt: int, blur_radius: float) -> SharpnessModel:
    """Render every suite prompt with its first seeds, clean and blurred, at 512x512."""
    scenes: list[tuple[float, float]] = []
    shifts: list[float] = []
    for stratum in SUITE.strata:
        clean: list[float] = []
        for prompt in stratum.prompts:
            for seed in prompt.seeds[:seeds_per_prompt]:
                sharp, blurred = _render_pair(prompt.prompt, seed, blur_radius)
                clean.append(sharp)
                shifts.append(blurred - sharp)
        scenes.append((fmean(clean), stdev(clean) if len(clean) > 1 else 0.0))
    return SharpnessModel(
        tuple(scenes), blur_radius, (fmean(shifts), stdev(shifts)), images=2 * len(shifts)
    )


def _render_pair(prompt: str, seed: int, blur_radius: float) -> tuple[float, float]:
    """log10(1 + sharpness) of the clean image and of the same image blurred."""
    size = IMAGE_SIZE
    clean = sharpness(render(prompt, seed, size, size))
    blurred = sharpness(render(prompt, seed, size, size, Knobs(blur=blur_radius)))
    return math.log10(1.0 + clean), math.log10(1.0 + blurred)


# ---------------------------------------------------------------- scenarios

ALPHA = 0.05
MAX_SAMPLES = 2000
BLUR_RADIUS = 2.5
WORKERS = max(1, min(2, os.cpu_count() or 1))
PROMOTE, ROLLBACK, INCONCLUSIVE = Outcome.PROMOTE, Outcome.ROLLBACK, Outcome.INCONCLUSIVE
OUTCOMES = (PROMOTE, ROLLBACK, INCONCLUSIVE)
Z = NormalDist()


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    pairs: int
    reason: str = ""  # what failed: gate/stratum, metric or check
    typography: int = 0  # typography pairs among them


@dataclass(frozen=True)
class Scenario:
    key: str
    name: str
    sim: Sim
    bad: bool  # the right decision is Rollback
    target: str
    gates: tuple[Gate, ...] = ()  # () = the default set
    share: float = 1.0  # of --runs: the judge costs ~3 ms a pair, so long scenarios run fewer
    pairs_hint: int = 100  # rough pairs per run, to hand out the slow jobs first

    def analysis(self) -> Analysis:
        return Analysis(gates=list(self.gates))

    def runs(self, runs: int) -> int:
        return max(2, round(runs * self.share))


def _with_latency_gate(gate: Gate) -> tuple[Gate, ...]:
    return tuple(gate if g.name == "latency" else g for g in DEFAULT_GATES)


SCENARIOS = (
    Scenario(
        "1", "identical canary", Sim(), False, "Promote, median <= 150, p95 <= 300",
        pairs_hint=150,
    ),
    Scenario(
        "2", "A/A, independent noise", Sim(independent=True), False,
        "Promote >= 90%, false rollbacks <= alpha", share=0.5, pairs_hint=1200,
    ),
    Scenario(
        "3", "latency 0.05 -> 1.5 s, margin 0.5 s", Sim(latency_s=(0.05, 1.5)), True,
        "Rollback by latency, median <= 20",
        _with_latency_gate(Gate(name="latency", metric=Metric.LATENCY, max_degradation="0.5")),
        pairs_hint=20,
    ),
    Scenario(
        "4", "25% HTTP 500 on the canary", Sim(canary_errors=0.25), True,
        "Rollback by errors, median <= 20", pairs_hint=20,
    ),
    Scenario(
        "5", f"blur radius {BLUR_RADIUS:g}", Sim(blur=True), True, "Rollback by sharpness",
        pairs_hint=20,
    ),
    Scenario(
        "6", "typography 0.89 -> 0.61",
        Sim(independent=True, text_rate=0.89, canary_text={"typography": 0.61}), True,
        "mean pairs <= 1.3 x Wald; Fails before the 30-pair minSamples",
        pairs_hint=170,
    ),
    Scenario(
        "7", "logos 0.95 -> 0.6",
        Sim(independent=True, text_rate=0.95, canary_text={"logos": 0.6}), True,
        "Rollback naming text/logos", share=0.5, pairs_hint=350,
    ),
)  # fmt: skip


# ---------------------------------------------------------------- the judge


def judge_run(scenario: Scenario, s: Stream) -> Decision:
    """record + evaluate after every pair, exactly as the sampler does."""
    analysis = scenario.analysis()
    gates = gates_of(analysis)
    state = AnalysisState()
    for i in range(len(s)):
        state = record(state, gates, s.pair(i))
        results, outcome = evaluate(analysis, state, STRATA, analysis.max_samples)
        if outcome is Outcome.ROLLBACK:
            return Decision(outcome, i + 1, failing(results), typography_pairs(s, i + 1))
        if outcome is not Outcome.CONTINUE:
            return Decision(outcome, i + 1, holding(results))
    return Decision(INCONCLUSIVE, len(s))


def holding(results: Sequence[GateResult]) -> str:
    """The gates that have not passed (none when promoted)."""
    return ", ".join(r.gate for r in results if "/" not in r.gate and r.verdict is not Verdict.PASS)


def failing(results: Sequence[GateResult]) -> str:
    """The failing cell's name (`text/logos` over `text`); a pooled Fail adds the stratum its
    reason names as the worst, as `text [worst text/logos]`."""
    fails = [r for r in results if r.verdict is Verdict.FAIL]
    cell = next((r.gate for r in fails if "/" in r.gate), None)
    if cell is not None or not fails:
        return cell or ""
    worst = re.search(r"worst stratum ([\w/-]+)", fails[0].reason)
    return f"{fails[0].gate} [worst {worst.group(1)}]" if worst else fails[0].gate


def typography_pairs(s: Stream, n: int) -> int:
    return int(np.count_nonzero(s.stratum[:n] == NAMES.index("typography")))


# ---------------------------------------------------------------- Kayenta

KAYENTA_EVERY, KAYENTA_HORIZON = 20, 200
KAYENTA_TOLERANCE = 0.25
KAYENTA_Q = Z.inv_cdf(0.99)  # 98% two-sided
KAYENTA_PASS, KAYENTA_MARGINAL = 95.0, 75.0
PASS, HIGH, LOW, ERROR = "Pass", "High", "Low", "Error"


@dataclass(frozen=True)
class KayentaMetric:
    name: str
    increase: bool  # the harmful direction
    allowed: float  # effectSize threshold on the mean ratio canary / baseline
    critical: bool = False


def kayenta_metrics(scenario: Scenario) -> tuple[KayentaMetric, ...]:
    """The canary config a user would write for the scenario's gates."""
    margins = {g.metric: float(g.max_degradation) for g in gates_of(scenario.analysis())}
    text = 1.0 - margins[Metric.OCR_ACCURACY] / 100.0 / scenario.sim.text_rate
    if Metric.LATENCY in margins:
        latency = 1.0 + margins[Metric.LATENCY] / scenario.sim.latency_s[0]
    else:
        latency = 1.0 + margins[Metric.LATENCY_RATIO] / 100.0
    return (
        KayentaMetric("text", False, text),
        KayentaMetric("errors", True, 1.0, critical=True),
        KayentaMetric("latency", True, latency),
        KayentaMetric("sharpness", False, 10.0 ** -margins[Metric.SHARPNESS]),
    )


def kayenta_values(s: Stream, n: int, name: str) -> tuple[Floats, Floats]:
    """(baseline, canary) values of one metric over the first n pairs, per arm."""
    out: list[Floats] = []
    for arm in (s.baseline, s.canary):
        ok = arm.ok[:n]
        if name == "errors":
            out.append((~ok).astype(np.float64))
        elif name == "text":
            out.append(arm.text[:n][ok & s.has_text[:n]].astype(np.float64))
        elif name == "latency":
            out.append(arm.latency[:n][ok])
        else:
            out.append(arm.sharp[:n][ok])
    return out[0], out[1]


def wilcoxon_z(x: Floats, y: Floats) -> float:
    """Kayenta's wilcoxonDiff at shift 0: (rank sum of x - its mean - 0.5 sign) / sigma."""
    both = np.concatenate([x, y])
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    ranks = np.cumsum(counts) - (counts - 1) / 2.0  # average rank of each distinct value
    nx, ny = x.size, y.size
    dz = float(ranks[inverse[:nx]].sum()) - nx * (nx + 1) / 2.0 - nx * ny / 2.0
    ties = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    var = nx * ny / 12.0 * ((nx + ny + 1) - ties / ((nx + ny) * (nx + ny - 1)))
    if var <= 0.0:
        return math.nan
    return (dz - 0.5 * float(np.sign(dz))) / math.sqrt(var)


def kayenta_classify(base: Floats, can: Floats, metric: KayentaMetric) -> str:
    """MannWhitneyClassifier.classify: High/Low when the 98% interval's end lies beyond
    0.25 |estimate| in the harmful direction (the test of that shift rejects) and the mean
    ratio reaches the allowed change."""
    if not base.size or not can.size:  # nanStrategy none: missing data passes
        return PASS
    if np.array_equal(np.sort(base), np.sort(can)) or np.ptp(np.concatenate([base, can])) == 0:
        return PASS
    estimate = float(np.median(np.subtract.outer(can, base)))  # Hodges-Lehmann
    band = KAYENTA_TOLERANCE * abs(estimate)
    means = float(base.mean()), float(can.mean())
    ratio = means[1] / means[0] if min(abs(means[0]), abs(means[1])) > 0 else math.nan
    sign = 1.0 if metric.increase else -1.0
    z = wilcoxon_z(can - sign * band, base)
    if math.isnan(z):
        return ERROR
    beyond = sign * z > KAYENTA_Q
    effect = math.isnan(ratio) or sign * (ratio - metric.allowed) >= 0.0
    return (HIGH if metric.increase else LOW) if beyond and effect else PASS


def kayenta_score(labels: dict[str, str], metrics: Sequence[KayentaMetric]) -> float:
    if any(m.critical and labels[m.name] != PASS for m in metrics):
        return 0.0
    counted = [label for label in labels.values() if label in (PASS, HIGH, LOW)]
    return 100.0 * counted.count(PASS) / len(counted) if counted else 100.0


def kayenta_run(scenario: Scenario, s: Stream) -> Decision:
    metrics = kayenta_metrics(scenario)
    for n in range(KAYENTA_EVERY, KAYENTA_HORIZON + 1, KAYENTA_EVERY):
        labels = {m.name: kayenta_classify(*kayenta_values(s, n, m.name), m) for m in metrics}
        score = kayenta_score(labels, metrics)
        reason = ", ".join(f"{k} {v}" for k, v in labels.items() if v != PASS)
        if score < KAYENTA_MARGINAL:
            return Decision(ROLLBACK, n, reason)
    return Decision(PROMOTE if score >= KAYENTA_PASS else ROLLBACK, KAYENTA_HORIZON, reason)


# ---------------------------------------------------------------- Flagger

FLAGGER_EVERY, FLAGGER_THRESHOLD, FLAGGER_ITERATIONS = 10, 5, 10
FLAGGER_MAX_ERRORS, FLAGGER_MIN_OCR, FLAGGER_P99_FACTOR = 0.01, 0.85, 2.0


def flagger_failures(s: Stream, window: slice, p99_limit: float) -> list[str]:
    """The checks this interval fails, on the canary's requests in it alone."""
    canary, failed = s.canary, []
    ok = canary.ok[window]
    if float(np.mean(~ok)) > FLAGGER_MAX_ERRORS:
        failed.append("error-rate")
    latencies = canary.latency[window][ok]
    if not latencies.size or float(np.quantile(latencies, 0.99)) > p99_limit:
        failed.append("latency-p99")
    texts = canary.text[window][ok & s.has_text[window]]
    if not texts.size or float(texts.mean()) < FLAGGER_MIN_OCR:
        failed.append("ocr-accuracy")
    return failed


def flagger_run(scenario: Scenario, s: Stream) -> Decision:
    p99_limit = FLAGGER_P99_FACTOR * scenario.sim.latency_s[0]
    failed, passed, reasons = 0, 0, Counter[str]()
    for end in range(FLAGGER_EVERY, len(s) + 1, FLAGGER_EVERY):
        bad = flagger_failures(s, slice(end - FLAGGER_EVERY, end), p99_limit)
        failed, passed = failed + bool(bad), passed + (not bad)
        reasons.update(bad)
        if failed >= FLAGGER_THRESHOLD:
            return Decision(ROLLBACK, end, reasons.most_common(1)[0][0])
        if passed >= FLAGGER_ITERATIONS:
            return Decision(PROMOTE, end)
    return Decision(INCONCLUSIVE, len(s))


# ---------------------------------------------------------------- fixed horizon

FIXED_N = 300


def fixed_run(scenario: Scenario, s: Stream) -> Decision:
    gates = gates_of(scenario.analysis())
    z = Z.inv_cdf(1.0 - ALPHA / len(gates))
    pairs = [s.pair(i) for i in range(min(FIXED_N, len(s)))]
    fails, passes = [], 0
    for gate in gates:
        spec = METRICS[gate.metric]
        values = [difference(spec, p) for p in pairs if applies(gate, p)]
        diffs = np.array([v[2] for v in values if v is not None], dtype=np.float64)
        mean = float(diffs.mean()) if diffs.size else 0.0
        se = float(diffs.std(ddof=1)) / math.sqrt(diffs.size) if diffs.size > 1 else math.inf
        margin = spec.margin(gate)
        if mean + z * se < -margin:
            fails.append(gate.name)
        elif mean - z * se > -margin:
            passes += 1
    if fails:
        return Decision(ROLLBACK, len(pairs), fails[0])
    return Decision(PROMOTE if passes == len(gates) else INCONCLUSIVE, len(pairs))


# ---------------------------------------------------------------- Wald's SPRT (scenario 6)

WALD_BETA = 0.2
WALD_DESIGN = (0.89, 0.61)


def typography_fail_alpha() -> float:
    """The Fail alpha of the text gate's typography cell, as the judge splits it."""
    analysis = Analysis()
    planned = planned_cells(gates_of(analysis), STRATA)
    cells = next(c for c in planned if c.gate.metric is Metric.OCR_ACCURACY)
    return CellJudge(float(analysis.alpha), planned).fail_alphas(cells)[1]


def wald_run(s: Stream, alpha: float) -> Decision:
    p0, p1 = WALD_DESIGN
    theta1 = p0 * (1 - p1) / (p0 * (1 - p1) + (1 - p0) * p1)
    typo = (s.stratum == NAMES.index("typography")) & s.baseline.ok & s.canary.ok
    b, c = s.baseline.text & typo, s.canary.text & typo
    steps = (b & ~c) * math.log(2 * theta1) + (~b & c) * math.log(2 * (1 - theta1))
    llr = np.cumsum(steps)
    reject = np.flatnonzero(llr >= math.log((1 - WALD_BETA) / alpha))
    accept = np.flatnonzero(llr <= math.log(WALD_BETA / (1 - alpha)))
    first_r = int(reject[0]) + 1 if reject.size else math.inf
    first_a = int(accept[0]) + 1 if accept.size else math.inf
    if first_r == first_a == math.inf:
        return Decision(INCONCLUSIVE, len(s))
    n = int(min(first_r, first_a))
    outcome = ROLLBACK if first_r < first_a else PROMOTE
    return Decision(outcome, n, "typography SPRT", typography_pairs(s, n))


# ---------------------------------------------------------------- running

Methods = dict[str, Decision]
METHODS: tuple[tuple[str, Callable[[Scenario, Stream], Decision]], ...] = (
    ("judge", judge_run),
    ("Kayenta", kayenta_run),
    ("Flagger", flagger_run),
    ("fixed", fixed_run),
)


def run_chunk(job: tuple[int, int, range, SharpnessModel, float]) -> list[Methods]:
    """Runs of one scenario; run r draws from the seed sequence (seed, scenario, r)."""
    index, seed, runs, model, wald_alpha = job
    scenario = SCENARIOS[index]
    out: list[Methods] = []
    for run in runs:
        s = stream(np.random.default_rng([seed, index, run]), scenario.sim, model, MAX_SAMPLES)
        decided = {name: method(scenario, s) for name, method in METHODS}
        if scenario.key == "6":
            decided["Wald"] = wald_run(s, wald_alpha)
        out.append(decided)
    return out


def run_all(runs: int, seed: int, model: SharpnessModel) -> list[list[Methods]]:
    """Every scenario's runs in chunks of 5, the slowest first; results in run order."""
    alpha = typography_fail_alpha()
    jobs = [
        (index, seed, range(start, min(start + 5, scenario.runs(runs))), model, alpha)
        for index, scenario in enumerate(SCENARIOS)
        for start in range(0, scenario.runs(runs), 5)
    ]
    jobs.sort(key=lambda job: -SCENARIOS[job[0]].pairs_hint)
    with ProcessPoolExecutor(WORKERS) as pool:
        parts = list(pool.map(run_chunk, jobs))
    per_scenario: list[list[Methods]] = [[] for _ in SCENARIOS]
    done = sorted(zip(jobs, parts, strict=True), key=lambda item: (item[0][0], item[0][2].start))
    for job, part in done:
        per_scenario[job[0]].extend(part)
    return per_scenario


# ---------------------------------------------------------------- reporting


@dataclass(frozen=True)
class Summary:
    method: str
    shares: dict[Outcome, float]
    mean: float
    median: float
    p95: float
    wrong: float  # Rollback of a good canary, Promote of a bad one
    reason: str  # the most common failure and its share of rollbacks
    decisions: tuple[Decision, ...]

    def cell(self) -> str:
        p, r, i = (self.shares[o] for o in OUTCOMES)
        return f"P{p:4.0%} R{r:4.0%} I{i:4.0%} {self.median:5.0f}"


def summarize(method: str, decisions: Sequence[Decision], bad: bool) -> Summary:
    pairs = np.array([d.pairs for d in decisions], dtype=np.float64)
    shares = {o: sum(d.outcome is o for d in decisions) / len(decisions) for o in OUTCOMES}
    reasons = Counter(d.reason for d in decisions if d.outcome is ROLLBACK and d.reason)
    reason = ""
    if reasons:
        name, count = reasons.most_common(1)[0]
        reason = f"{name} ({count / max(1, sum(reasons.values())):.0%})"
    return Summary(
        method,
        shares,
        float(pairs.mean()),
        float(np.median(pairs)),
        float(np.percentile(pairs, 95)),
        shares[PROMOTE] if bad else shares[ROLLBACK],
        reason,
        tuple(decisions),
    )


HEADER = (
    f"  {'method':<9}{'Promote':>8}{'Rollback':>9}{'Inconcl':>8}{'mean':>8}{'p50':>6}{'p95':>6}"
    f"{'wrong':>7}{'x judge':>8}  failed (share of rollbacks)"
)


def print_scenario(scenario: Scenario, summaries: Sequence[Summary], runs: int) -> None:
    print(f"\n{scenario.key}. {scenario.name} ({runs} runs; target: {scenario.target})")
    print(HEADER)
    judge_mean = summaries[0].mean
    for s in summaries:
        p, r, i = (s.shares[o] for o in OUTCOMES)
        print(
            f"  {s.method:<9}{p:8.3f}{r:9.3f}{i:8.3f}{s.mean:8.1f}{s.median:6.0f}{s.p95:6.0f}"
            f"{s.wrong:7.3f}{s.mean / judge_mean:8.2f}  {s.reason or '-'}"
        )
    held = [d for d in summaries[0].decisions if d.outcome is INCONCLUSIVE]
    if held:
        gates = Counter(g for d in held for g in d.reason.split(", ") if g)
        shares = ", ".join(f"{g} {count / len(held):.0%}" for g, count in gates.most_common())
        print(f"  judge Inconclusive at {MAX_SAMPLES} pairs: gates not yet passed: {shares}")


def gate_share(summary: Summary, gate: str) -> float:
    """Share of runs rolled back with the first Fail in `gate` (pooled or a stratum cell)."""
    hits = [
        d
        for d in summary.decisions
        if d.outcome is ROLLBACK and d.reason.split()[0].split("/")[0] == gate
    ]
    return len(hits) / len(summary.decisions)


# ---------------------------------------------------------------- targets

Check = tuple[str, bool]
TARGET_SHARE = 0.95  # "Rollback by gate X": at least this share of runs


def _rollback_by(summaries: dict[str, Summary], gate: str, median: float | None) -> list[Check]:
    judge = summaries["judge"]
    share = gate_share(judge, gate)
    checks = [(f"Rollback by the {gate} gate in {share:.1%} of runs (>= 95%)", share >= 0.95)]
    if median is not None:
        checks.append(
            (
                f"pairs to decision median {judge.median:g} <= {median:g} "
                f"(mean {judge.mean:.1f}, p95 {judge.p95:.0f})",
                judge.median <= median,
            )
        )
    return checks


def _identical(summaries: dict[str, Summary]) -> list[Check]:
    judge = summaries["judge"]
    promoted = judge.shares[PROMOTE]
    return [
        (f"Promote {promoted:.1%} (>= 99%)", promoted >= 0.99),
        (f"median {judge.median:g} <= 150 pairs", judge.median <= 150),
        (f"p95 {judge.p95:.0f} <= 300 pairs", judge.p95 <= 300),
    ]


def _aa(summaries: dict[str, Summary]) -> list[Check]:
    judge = summaries["judge"]
    n = len(judge.decisions)
    promoted, false_rb = judge.shares[PROMOTE], judge.shares[ROLLBACK]
    se, se_alpha = (math.sqrt(p * (1 - p) / n) for p in (false_rb, ALPHA))
    return [
        (f"Promote within {MAX_SAMPLES} pairs {promoted:.1%} (>= 90%)", promoted >= 0.90),
        (
            f"false rollbacks {false_rb:.4f} (SE {se:.4f}; {se_alpha:.4f} at alpha) "
            f"<= alpha {ALPHA}",
            false_rb <= ALPHA,
        ),
    ]


def _typography(summaries: dict[str, Summary]) -> list[Check]:
    judge, wald = summaries["judge"], summaries["Wald"]
    fails = [d for d in judge.decisions if d.outcome is ROLLBACK]
    to_fail = float(np.mean([d.pairs for d in fails])) if fails else math.inf
    wald_fails = [d.pairs for d in wald.decisions if d.outcome is ROLLBACK]
    wald_fail = float(np.mean(wald_fails)) if wald_fails else math.inf
    typo = np.array([d.typography for d in fails], dtype=np.float64)
    below = float(np.mean(typo < 30)) if typo.size else 0.0
    typo_text = (
        f"{below:.0%} of Fails come before the stratum's minSamples of 30 typography pairs "
        f"(a floor would make it 0%); typography pairs at Fail: min {typo.min():.0f}, "
        f"median {np.median(typo):g}"
        if typo.size
        else "no Fails"
    )
    return [
        (
            f"judge mean pairs to Fail {to_fail:.1f} <= 1.3 x Wald mean {wald.mean:.1f} "
            f"(ratio {to_fail / wald.mean:.2f}; {to_fail / wald_fail:.2f} x Wald's mean to "
            f"Fail {wald_fail:.1f}; Wald accepts {wald.shares[PROMOTE]:.1%}, the judge fails "
            f"{judge.shares[ROLLBACK]:.1%})",
            to_fail <= 1.3 * wald.mean,
        ),
        (f"no minSamples floor: {typo_text}", below > 0.0),
    ]


def _logos(summaries: dict[str, Summary]) -> list[Check]:
    judge = summaries["judge"]
    runs = len(judge.decisions)
    cell = sum(d.reason == "text/logos" for d in judge.decisions) / runs
    pooled = sum(d.reason.endswith("[worst text/logos]") for d in judge.decisions) / runs
    return [
        (
            f"first Fail names text/logos in {cell + pooled:.1%} of runs (>= 90%): the "
            f"text/logos cell {cell:.1%}, the pooled text cell naming text/logos as its worst "
            f"stratum {pooled:.1%}; pairs mean {judge.mean:.1f}, median {judge.median:g}, "
            f"p95 {judge.p95:.0f}",
            cell + pooled >= 0.90,
        )
    ]


TARGETS: dict[str, Callable[[dict[str, Summary]], list[Check]]] = {
    "1": _identical,
    "2": _aa,
    "3": lambda s: _rollback_by(s, "latency", 20),
    "4": lambda s: _rollback_by(s, "errors", 20),
    "5": lambda s: _rollback_by(s, "sharpness", None),
    "6": _typography,
    "7": _logos,
}


def sparse_errors_note(seed: int, model: SharpnessModel, runs: int) -> str:
    """kayenta#426 on scenario 4's streams: rare 0/1 errors at Kayenta's first check."""
    index = next(i for i, sc in enumerate(SCENARIOS) if sc.key == "4")
    scenario = SCENARIOS[index]
    metric = next(m for m in kayenta_metrics(scenario) if m.name == "errors")
    passed, errors = 0, []
    for run in range(runs):
        rng = np.random.default_rng([seed, index, run])
        s = stream(rng, scenario.sim, model, KAYENTA_EVERY)
        base, can = kayenta_values(s, KAYENTA_EVERY, "errors")
        errors.append(float(can.sum()))
        passed += kayenta_classify(base, can, metric) == PASS
    return (
        f"  kayenta#426 (sparse 0/1 data): at Kayenta's first check ({KAYENTA_EVERY} pairs) the "
        f"canary had failed {fmean(errors):.1f} requests on average (baseline 0), yet errors "
        f"was Pass in {passed / runs:.0%} of runs: the Hodges-Lehmann shift of 0/1 data is 0"
    )


def print_model(model: SharpnessModel) -> None:
    shift, spread = model.blur_shift
    print(
        f"blur measured on {model.images} demo renders ({model.images // 2} suite prompt and "
        f"seed pairs, 512x512, demo.server.render, GaussianBlur({model.blur_radius:g})): "
        f"log10(1 + sharpness) shifts by {shift:+.3f} (sd {spread:.3f}), a ratio of "
        f"{10.0**shift:.2e}"
    )
    scenes = ", ".join(
        f"{name} {m:.2f}+-{sd:.2f}" for name, (m, sd) in zip(NAMES, model.scenes, strict=True)
    )
    print(f"clean log10(1 + sharpness) per stratum (mean+-sd over scenes): {scenes}")


def print_table(rows: Sequence[tuple[Scenario, bool, Sequence[Summary]]]) -> None:
    methods = ("judge", "Kayenta", "Flagger", "fixed")
    print("\nsummary: decision shares (Promote / Rollback / Inconclusive) and median pairs")
    print(f"{'scenario':<38}{'target':<8}" + "".join(f"{m:<25}" for m in methods))
    for scenario, ok, summaries in rows:
        by_name = {s.method: s for s in summaries}
        cells = "".join(f"{by_name[m].cell():<25}" for m in methods)
        print(f"{scenario.key + ' ' + scenario.name:<38}{'PASS' if ok else 'FAIL':<8}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="--runs 30, for CI (< 1 min)")
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="runs per scenario (default 400; A/A and logos run half)",
    )
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    runs = args.runs or (30 if args.quick else 400)
    started = time.perf_counter()
    model = measure_sharpness(1 if args.quick else 3, BLUR_RADIUS)
    print_model(model)
    print(f"typography cell Fail alpha (Wald's alpha): {typography_fail_alpha():.5f}")
    rows = []
    for scenario, decided in zip(SCENARIOS, run_all(runs, args.seed, model), strict=True):
        summaries = [
            summarize(name, [d[name] for d in decided], scenario.bad) for name in decided[0]
        ]
        print_scenario(scenario, summaries, len(decided))
        checks = TARGETS[scenario.key]({s.method: s for s in summaries})
        for text, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}")
        if scenario.key == "4":
            print(sparse_errors_note(args.seed, model, len(decided)))
        rows.append((scenario, all(ok for _, ok in checks), summaries))
    print_table(rows)
    print(f"\n{time.perf_counter() - started:.1f} s on {WORKERS} workers")


if __name__ == "__main__":
    main()
