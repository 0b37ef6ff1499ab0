"""Gate bookkeeping: record scored pairs into per-gate, per-stratum statistics and judge them.

The state is plain data that round-trips through JSON, so the operator can keep it in status
and a restart resumes sampling where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.core.judge import (
    BinaryStats,
    ContinuousStats,
    GateResult,
    Outcome,
    binary_gate,
    continuous_gate,
    judge,
    split_alpha,
)
from imagerollout.core.quality.gates import METRICS, MetricSpec, PairScores, clip, worst

MIN_SAMPLES_PER_STRATUM = 5
# The before/after snapshot on-call reads: tracked whatever gates are configured.
SNAPSHOT_TEXT, SNAPSHOT_LATENCY, SNAPSHOT_COST = "typography", "latency", "cost"


@dataclass(frozen=True)
class AnalysisState:
    samples: int = 0
    plan_index: int = 0
    baseline_errors: int = 0
    canary_errors: int = 0
    binary: dict[str, BinaryStats] = field(default_factory=dict)
    continuous: dict[str, ContinuousStats] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @staticmethod
    def from_json(text: str | None) -> AnalysisState:
        if not text:
            return AnalysisState()
        raw: dict[str, Any] = json.loads(text)
        return AnalysisState(
            samples=raw["samples"],
            plan_index=raw["plan_index"],
            baseline_errors=raw["baseline_errors"],
            canary_errors=raw["canary_errors"],
            binary={k: BinaryStats(**v) for k, v in raw["binary"].items()},
            continuous={k: ContinuousStats(**v) for k, v in raw["continuous"].items()},
        )


def gate_key(gate: Gate, stratum: str) -> str:
    return f"{gate.name}/{stratum}"


def applies(gate: Gate, pair: PairScores) -> bool:
    spec = METRICS[gate.metric]
    in_strata = not gate.strata or pair.stratum in gate.strata
    return in_strata and (pair.has_text or not spec.text_only)


def record(state: AnalysisState, gates: Sequence[Gate], pair: PairScores) -> AnalysisState:
    """Add one probed pair. A failed baseline drops the pair; a failed canary scores worst."""
    errors = replace(
        state,
        plan_index=state.plan_index + 1,
        baseline_errors=state.baseline_errors + (not pair.baseline.ok),
        canary_errors=state.canary_errors + (not pair.canary.ok),
    )
    if not pair.baseline.ok:
        return errors
    binary, continuous = dict(state.binary), dict(state.continuous)
    for gate in (g for g in gates if applies(g, pair)):
        key, spec = gate_key(gate, pair.stratum), METRICS[gate.metric]
        if spec.binary:
            binary[key] = binary.get(key, BinaryStats()).add(*_binary(spec, pair))
        else:
            continuous[key] = continuous.get(key, ContinuousStats()).add(*_values(spec, pair))
    _snapshot(binary, continuous, pair)
    return replace(errors, samples=state.samples + 1, binary=binary, continuous=continuous)


def _binary(spec: MetricSpec, pair: PairScores) -> tuple[bool, bool]:
    baseline = bool(spec.extract(pair, False))
    canary = pair.canary.ok and bool(spec.extract(pair, True))
    return baseline, canary


def _values(spec: MetricSpec, pair: PairScores) -> tuple[float, float]:
    baseline = spec.extract(pair, False)
    canary = spec.extract(pair, True) if pair.canary.ok else None
    b = clip(spec, baseline) if baseline is not None else worst(spec)
    c = clip(spec, canary) if canary is not None else worst(spec)
    return b, c


def _snapshot(
    binary: dict[str, BinaryStats], continuous: dict[str, ContinuousStats], pair: PairScores
) -> None:
    if pair.has_text:
        text = METRICS[Metric.OCR_ACCURACY]
        binary[SNAPSHOT_TEXT] = binary.get(SNAPSHOT_TEXT, BinaryStats()).add(*_binary(text, pair))
    for key, metric in ((SNAPSHOT_LATENCY, Metric.LATENCY), (SNAPSHOT_COST, Metric.COST_PER_IMAGE)):
        values = _values(METRICS[metric], pair)
        continuous[key] = continuous.get(key, ContinuousStats()).add(*values)


@dataclass(frozen=True)
class StratumInfo:
    name: str
    has_text: bool
    min_samples: int


def planned_keys(gates: Sequence[Gate], strata: Sequence[StratumInfo]) -> list[tuple[Gate, str]]:
    """Every (gate, gate/stratum) the suite can feed: fixed up front, so alpha splits evenly."""
    return [
        (g, gate_key(g, s.name))
        for g in gates
        for s in strata
        if (not g.strata or s.name in g.strata) and (s.has_text or not METRICS[g.metric].text_only)
    ]


def evaluate(
    analysis: Analysis, state: AnalysisState, strata: Sequence[StratumInfo], max_samples: int
) -> tuple[list[GateResult], Outcome]:
    keys = planned_keys(analysis.gates, strata)
    alpha = split_alpha(float(analysis.alpha), max(len(keys), 1))
    minimum = {s.name: max(s.min_samples, MIN_SAMPLES_PER_STRATUM) for s in strata}
    results = [_gate_result(gate, key, state, alpha, minimum) for gate, key in keys]
    return results, judge(results, state.samples, max_samples)


def _gate_result(
    gate: Gate, key: str, state: AnalysisState, alpha: float, minimum: dict[str, int]
) -> GateResult:
    spec = METRICS[gate.metric]
    needed = minimum.get(key.split("/", 1)[1], MIN_SAMPLES_PER_STRATUM)
    allowed = float(gate.max_degradation) / spec.unit
    if spec.binary:
        return binary_gate(key, state.binary.get(key, BinaryStats()), allowed, alpha, needed)
    stats = state.continuous.get(key, ContinuousStats())
    return continuous_gate(key, stats, allowed, alpha, needed, spec.higher_is_better, spec.scale)
