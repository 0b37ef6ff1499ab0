"""What each gate metric reads from a pair of scored images, and how it is bounded.

Continuous gates need a bounded paired difference for an anytime-valid confidence sequence,
so every value is clipped to [0, scale]; a failed request scores the worst value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from imagerollout.api.v1alpha1 import Metric

LATENCY_CAP_S = 5.0  # seconds; a tight scale keeps the latency gate quick to decide
COST_CAP = 10.0


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


Extract = Callable[[PairScores, bool], float | None]  # (pair, canary side?) -> value


@dataclass(frozen=True)
class MetricSpec:
    binary: bool
    higher_is_better: bool
    scale: float
    unit: float  # maxDegradation is given in these units of the value (100: percentage points)
    extract: Extract
    text_only: bool = False


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


METRICS: dict[Metric, MetricSpec] = {
    Metric.OCR_ACCURACY: MetricSpec(True, True, 1.0, 100.0, _field("text_passed"), True),
    Metric.OCR_EDIT_DISTANCE: MetricSpec(False, False, 1.0, 1.0, _field("ned"), True),
    # log10 of the variance of the Laplacian: 0.3 is a factor of two blurrier.
    Metric.SHARPNESS: MetricSpec(
        False, True, 5.0, 1.0, _field("sharpness", lambda v: math.log10(1.0 + v))
    ),
    Metric.EXPOSURE: MetricSpec(False, False, 1.0, 1.0, _field("exposure")),
    Metric.NOISE: MetricSpec(False, False, 1.0, 1.0, _field("noise")),
    Metric.COLORFULNESS: MetricSpec(False, True, 200.0, 1.0, _field("colorfulness")),
    Metric.SSIM: MetricSpec(False, True, 1.0, 1.0, _reference("ssim", 1.0)),
    Metric.PHASH: MetricSpec(False, False, 64.0, 1.0, _reference("phash", 0.0)),
    Metric.LATENCY: MetricSpec(False, False, LATENCY_CAP_S, 1.0, _field("latency_s")),
    Metric.COST_PER_IMAGE: MetricSpec(False, False, COST_CAP, 1.0, _field("cost")),
}


def worst(spec: MetricSpec) -> float:
    return 0.0 if spec.higher_is_better else spec.scale


def clip(spec: MetricSpec, value: float) -> float:
    return min(max(value, 0.0), spec.scale)
