"""NetCost: what an image really costs once a failed text check is paid for.

Per arm and image: cost + reworkCost x (the image failed its text check) + latencyCost x
seconds. Images without expected text have no text check, so no rework. Lower is better.
The seed's upgrade (61% -> 89% text accuracy, $0.045 -> $0.065 per image) breaks even at a
rework cost of 0.02 / 0.28 = $0.071: from a few cents of rework up, it is the cheaper model.

The paired difference is bounded by one rework plus the tolerated cost and latency spread, so
it is clipped at reworkCost + latencyCost x 5 s + 3 x margin (gates.py's caps): fixed
before sampling, as every continuous gate's clip is, and wide enough that a rework is never
cut short (clipping a rework would bias the mean the test is about).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from imagerollout.api.v1alpha1 import Gate

if TYPE_CHECKING:  # gates.py registers this module's functions in its METRICS table
    from imagerollout.core.quality.gates import ArmScores, PairScores

MIN_CLIP = 1e-6


def prices(gate: Gate) -> tuple[float, float]:
    """(reworkCost, latencyCost) of a NetCost gate."""
    assert gate.net_cost is not None, "the API requires netCost for metric NetCost"
    return float(Decimal(gate.net_cost.rework_cost)), float(Decimal(gate.net_cost.latency_cost))


def net_cost(arm: ArmScores, rework: float, per_second: float) -> float | None:
    """One image's net cost; None when its cost is unknown."""
    if arm.cost is None:
        return None
    failed = arm.text_passed is False
    return arm.cost + rework * failed + per_second * arm.latency_s


def extract_for(gate: Gate) -> Callable[[PairScores, bool], float | None]:
    rework, per_second = prices(gate)

    def extract(pair: PairScores, canary: bool) -> float | None:
        return net_cost(pair.canary if canary else pair.baseline, rework, per_second)

    return extract


def clip_for(gate: Gate, clip_margins: float, latency_cap_s: float) -> float:
    rework, per_second = prices(gate)
    margin = float(Decimal(gate.max_degradation))
    return max(rework + per_second * latency_cap_s + clip_margins * margin, 2 * margin, MIN_CLIP)
