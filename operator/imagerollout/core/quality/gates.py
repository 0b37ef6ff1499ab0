"""What each gate metric reads from a pair of scored images, and how it is bounded.

Continuous gates judge the paired difference x = canary - baseline (oriented so that higher
is better), clipped to [-c, c] with c = CLIP_MARGINS x the margin: a range fixed before
sampling and tight around the question asked, so the betting tests are quick to decide. A gate
with a margin of 0 uses the metric's natural `scale`. Binary gates judge x in {-1, 0, 1}.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.core.quality import net_cost

LATENCY_CAP_S = 5.0  # seconds: the snapshot's latency bounds
COST_CAP = 10.0
CLIP_MARGINS = 3.0  # clip differences at 3 margins: big effects fail fast, ties pass fast
LATENCY_FLOOR_S = 1e-3  # log ratios of latencies below a millisecond are noise
ERRORS_GATE = "errors"


@dataclass(frozen=True)
class ArmScores:
    """One arm's image for one probe; ok=False when the request or decode failed."""

    ok: bool
    text_passed: bool | None = None
    ned: float | None = None
    sharpness: float | None = None
    exposure: float | None = None
    noise: float | None = None
    colorfulness: float | None = None
    latency_s: float = 0.0
    cost: float | None = None


@dataclass(frozen=True)
class PairScores:
    stratum: str
    has_text: bool
    baseline: ArmScores
    canary: ArmScores
    ssim: float | None = None  # canary against baseline, same prompt and seed
    phash: int | None = None

    @property
    def both_ok(self) -> bool:
        return self.baseline.ok and self.canary.ok


Extract = Callable[[PairScores, bool], float | None]  # (pair, canary side?) -> value


def _percent_points(value: float) -> float:
    return value / 100.0


def _same(value: float) -> float:
    return value


@dataclass(frozen=True)
class MetricSpec:
    binary: bool
    higher_is_better: bool
    scale: float  # the difference's natural range: the clip when the margin is 0
    extract: Extract
    text_only: bool = False
    margin_of: Callable[[float], float] = _same  # maxDegradation -> the difference's units
    show: Callable[[float], float] = _same  # a mean value as status shows it
    show_effect: Callable[[float], float] = _same  # a difference as status shows it
    # Metrics priced by the gate itself (NetCost): the extractor and clip depend on the gate.
    extract_of: Callable[[Gate], Extract] | None = None
    clip_of: Callable[[Gate], float] | None = None

    def margin(self, gate: Gate) -> float:
        return self.margin_of(float(gate.max_degradation))

    def extractor(self, gate: Gate) -> Extract:
        return self.extract_of(gate) if self.extract_of else self.extract

    def clip(self, gate: Gate) -> float:
        """c for this gate's differences; binary differences are always in [-1, 1]."""
        if self.clip_of is not None:
            return self.clip_of(gate)
        margin = self.margin(gate)
        if self.binary or margin <= 0.0:
            return 1.0 if self.binary else self.scale
        return CLIP_MARGINS * margin


def _arm(pair: PairScores, canary: bool) -> ArmScores:
    return pair.canary if canary else pair.baseline


def _field(name: str, transform: Callable[[float], float] = float) -> Extract:
    def extract(pair: PairScores, canary: bool) -> float | None:
        value = getattr(_arm(pair, canary), name)
        return None if value is None else transform(float(value))

    return extract


def _reference(name: str, identical: float) -> Extract:
    """Full-reference scores: the baseline against itself is `identical`."""

    def extract(pair: PairScores, canary: bool) -> float | None:
        value = getattr(pair, name)
        return None if value is None else float(value) if canary else identical

    return extract


def _answered(pair: PairScores, canary: bool) -> float:
    return float(_arm(pair, canary).ok)


def _log_latency(value: float) -> float:
    return math.log(max(value, LATENCY_FLOOR_S))


METRICS: dict[Metric, MetricSpec] = {
    Metric.OCR_ACCURACY: MetricSpec(True, True, 1.0, _field("text_passed"), True, _percent_points),
    Metric.ERRORS: MetricSpec(True, True, 1.0, _answered, margin_of=_percent_points),
    Metric.OCR_EDIT_DISTANCE: MetricSpec(False, False, 1.0, _field("ned"), True),
    # log10 of the variance of the Laplacian: 0.3 is a factor of two blurrier.
    Metric.SHARPNESS: MetricSpec(
        False, True, 5.0, _field("sharpness", lambda v: math.log10(1.0 + v))
    ),
    Metric.EXPOSURE: MetricSpec(False, False, 1.0, _field("exposure")),
    Metric.NOISE: MetricSpec(False, False, 1.0, _field("noise")),
    Metric.COLORFULNESS: MetricSpec(False, True, 200.0, _field("colorfulness")),
    Metric.SSIM: MetricSpec(False, True, 1.0, _reference("ssim", 1.0)),
    Metric.PHASH: MetricSpec(False, False, 64.0, _reference("phash", 0.0)),
    Metric.LATENCY: MetricSpec(False, False, LATENCY_CAP_S, _field("latency_s")),
    # log(canary / baseline latency); maxDegradation 25 means a quarter slower.
    Metric.LATENCY_RATIO: MetricSpec(
        False,
        False,
        math.log(1000.0),
        _field("latency_s", _log_latency),
        margin_of=lambda value: math.log1p(value / 100.0),
        show=math.exp,  # geometric mean, in seconds
        show_effect=math.expm1,  # canary / baseline - 1
    ),
    Metric.COST_PER_IMAGE: MetricSpec(False, False, COST_CAP, _field("cost")),
    # cost + reworkCost when the text check fails + latencyCost x seconds (net_cost.py).
    Metric.NET_COST: MetricSpec(
        False,
        False,
        COST_CAP,
        _field("cost"),
        extract_of=net_cost.extract_for,
        clip_of=lambda gate: net_cost.clip_for(gate, CLIP_MARGINS, LATENCY_CAP_S),
    ),
}


def _gate(name: str, metric: Metric, margin: str) -> Gate:
    return Gate(name=name, metric=metric, max_degradation=margin)


# What `analysis: {}` judges: text, errors, latency and one perceptual gate, with margins the
# judge proves within the default maxSamples (docs/judge.md).
DEFAULT_GATES = (
    _gate("text", Metric.OCR_ACCURACY, "5"),
    _gate(ERRORS_GATE, Metric.ERRORS, "5"),
    _gate("latency", Metric.LATENCY_RATIO, "25"),
    _gate("sharpness", Metric.SHARPNESS, "0.3"),
)


def gates_of(analysis: Analysis) -> list[Gate]:
    """The gates judged: the spec's (or the default set), always with an Errors gate."""
    gates = list(analysis.gates) or list(DEFAULT_GATES)
    if not any(g.metric == Metric.ERRORS for g in gates):
        names = {g.name for g in gates}
        name = ERRORS_GATE if ERRORS_GATE not in names else "request-errors"
        gates.append(_gate(name, Metric.ERRORS, "5"))
    return gates


def feeds(gate: Gate, stratum: str, has_text: bool) -> bool:
    """The gate judges this stratum: listed (or none listed), and with text for OCR metrics."""
    listed = not gate.strata or stratum in gate.strata
    return listed and (has_text or not METRICS[gate.metric].text_only)


def effect_limit(gate: Gate) -> float:
    """The effect (canary - baseline, as status shows it) past which the canary is too worse."""
    spec = METRICS[gate.metric]
    sign = 1.0 if spec.higher_is_better else -1.0
    return spec.show_effect(-sign * spec.margin(gate))


def difference(
    spec: MetricSpec, pair: PairScores, extract: Extract | None = None
) -> tuple[float, float, float] | None:
    """(baseline, canary, oriented difference) for one pair, or None when a value is missing."""
    extract = extract or spec.extract
    baseline, canary = extract(pair, False), extract(pair, True)
    if baseline is None or canary is None:
        return None
    sign = 1.0 if spec.higher_is_better else -1.0
    return baseline, canary, sign * (canary - baseline)
