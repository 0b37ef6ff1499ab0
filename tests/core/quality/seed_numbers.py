"""The seed's own before/after, as pairs for the judge (shared by the NetCost test and bench).

Before: 61% typographic accuracy, $0.045 and 2200 ms per image. After: 89%, $0.065, 2600 ms.
A cheaper model that garbles text: 30% accuracy at $0.030 and 2000 ms.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from imagerollout.api.net_cost import NetCostPrices
from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.core.judge import GateResult, Outcome
from imagerollout.core.quality.analysis import AnalysisState, StratumInfo, evaluate, record
from imagerollout.core.quality.gates import ArmScores, PairScores, gates_of

STRATA = (StratumInfo("typography", True, 30),)


@dataclass(frozen=True)
class Model:
    accuracy: float
    cost: float
    latency_s: float


BEFORE = Model(0.61, 0.045, 2.2)
AFTER = Model(0.89, 0.065, 2.6)
GARBLER = Model(0.30, 0.030, 2.0)


def net_cost_gate(rework: str, margin: str = "0.005", latency_cost: str = "0") -> Gate:
    prices = NetCostPrices(rework_cost=rework, latency_cost=latency_cost)
    return Gate(name="net-cost", metric=Metric.NET_COST, max_degradation=margin, net_cost=prices)


def cost_gate(margin: str = "0.005") -> Gate:
    return Gate(name="cost", metric=Metric.COST_PER_IMAGE, max_degradation=margin)


def _arm(model: Model, draw: random.Random) -> ArmScores:
    jitter = draw.uniform(0.9, 1.1)  # latency varies per request
    passed = draw.random() < model.accuracy
    return ArmScores(
        ok=True, text_passed=passed, latency_s=model.latency_s * jitter, cost=model.cost
    )


def judge_stream(
    gate: Gate, baseline: Model, canary: Model, seed: int, max_pairs: int = 2000
) -> tuple[Outcome, int, list[GateResult], AnalysisState]:
    """Pairs of the two models through record + evaluate; stop at the first decision."""
    analysis = Analysis(gates=[gate], min_samples=1, max_samples=max_pairs)
    gates, state, draw = gates_of(analysis), AnalysisState(), random.Random(seed)
    results: list[GateResult] = []
    outcome = Outcome.CONTINUE
    while state.samples < max_pairs:
        pair = PairScores("typography", True, _arm(baseline, draw), _arm(canary, draw))
        state = record(state, gates, pair)
        results, outcome = evaluate(analysis, state, STRATA, max_pairs)
        if outcome in (Outcome.PROMOTE, Outcome.ROLLBACK):
            break
    return outcome, state.samples, results, state
