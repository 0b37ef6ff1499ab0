"""Gate bookkeeping: record scored pairs into per-gate statistics and judge them.

Each gate keeps a pooled cell (every stratum it applies to) and a cell per stratum:
- Fail is tested in every cell, so a regression confined to logos is named `text/logos`, and
  in the pooled cell, so a regression everywhere fails on all the pairs at once. The Fail
  budget (`alpha`, the false-rollback rate) is split by `fail_alphas`.
- Pass is tested once per gate, on the pooled cell: the stratum-weighted effect, since the plan
  draws strata with fixed probabilities. Promotion needs every gate to pass, so each Pass test
  may use the whole alpha (an intersection-union test). Every stratum must also have its
  minSamples pairs and no Fail: minSamples holds back a Pass, never a Fail.
The Errors gate judges every pair; the quality gates judge pairs where both arms answered.

The state is plain data that round-trips through JSON, so the operator can keep it in status
and a restart resumes sampling where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.core.judge import BinaryStats, ContinuousStats, GateResult, Outcome
from imagerollout.core.judge.wsr import BettingState, new_state
from imagerollout.core.quality.cells import CellJudge, Cells, StratumInfo, gate_key
from imagerollout.core.quality.gates import METRICS, PairScores, difference, feeds, gates_of
from imagerollout.core.quality.scopes import Scopes

NO_SCOPES = Scopes()

__all__ = ["AnalysisState", "StratumInfo", "evaluate", "judged_gates", "planned_cells", "record"]

# The before/after snapshot on-call reads: tracked whatever gates are configured.
SNAPSHOT_TEXT, SNAPSHOT_LATENCY, SNAPSHOT_COST = "typography", "latency", "cost"


@dataclass(frozen=True)
class AnalysisState:
    samples: int = 0
    plan_index: int = 0
    baseline_errors: int = 0
    canary_errors: int = 0
    binary: dict[str, BinaryStats] = field(default_factory=dict)
    betting: dict[str, BettingState] = field(default_factory=dict)
    continuous: dict[str, ContinuousStats] = field(default_factory=dict)  # the snapshot

    def to_json(self) -> str:
        raw = asdict(self)
        raw["betting"] = {k: v.to_dict() for k, v in self.betting.items()}
        return json.dumps(raw, separators=(",", ":"), sort_keys=True)

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
            betting={k: BettingState.from_dict(v) for k, v in raw.get("betting", {}).items()},
            continuous={
                k: ContinuousStats(**v)
                for k, v in raw["continuous"].items()
                if k in (SNAPSHOT_LATENCY, SNAPSHOT_COST)
            },
        )


def applies(gate: Gate, pair: PairScores) -> bool:
    judged = pair.both_ok or gate.metric == Metric.ERRORS
    return judged and feeds(gate, pair.stratum, pair.has_text)


def record(state: AnalysisState, gates: Sequence[Gate], pair: PairScores) -> AnalysisState:
    """Add one probed pair to every gate it applies to, and to the snapshot."""
    binary, betting = dict(state.binary), dict(state.betting)
    for gate in (g for g in gates if applies(g, pair)):
        spec = METRICS[gate.metric]
        values = difference(spec, pair, spec.extractor(gate))
        if values is None:
            continue
        keys = [gate.name]
        if gate.metric != Metric.ERRORS:
            keys.append(gate_key(gate, pair.stratum))
        for key in keys:
            if spec.binary:  # counts: the SPRT, the betting mixture and the bounds need no more
                binary[key] = binary.get(key, BinaryStats()).add(bool(values[0]), bool(values[1]))
            else:
                _bet(betting, key, gate, values)
    continuous = dict(state.continuous)
    if pair.both_ok:
        _snapshot(binary, continuous, pair)
    return replace(
        state,
        samples=state.samples + 1,
        plan_index=state.plan_index + 1,
        baseline_errors=state.baseline_errors + (not pair.baseline.ok),
        canary_errors=state.canary_errors + (not pair.canary.ok),
        binary=binary,
        betting=betting,
        continuous=continuous,
    )


def _bet(
    betting: dict[str, BettingState], key: str, gate: Gate, values: tuple[float, float, float]
) -> None:
    """Bet on one cell; a changed margin starts the cell afresh (its bets had another null)."""
    spec = METRICS[gate.metric]
    clip, margin = spec.clip(gate), -spec.margin(gate)
    cell = betting.get(key)
    if cell is None or (cell.clip, cell.margin) != (clip, margin):
        cell = new_state(clip, margin)
    betting[key] = cell.add(values[2], baseline=values[0], canary=values[1])


def _snapshot(
    binary: dict[str, BinaryStats], continuous: dict[str, ContinuousStats], pair: PairScores
) -> None:
    text = pair.baseline.text_passed, pair.canary.text_passed
    if pair.has_text and None not in text:
        binary[SNAPSHOT_TEXT] = binary.get(SNAPSHOT_TEXT, BinaryStats()).add(*map(bool, text))
    for key, metric in ((SNAPSHOT_LATENCY, Metric.LATENCY), (SNAPSHOT_COST, Metric.COST_PER_IMAGE)):
        values = difference(METRICS[metric], pair)
        if values is not None:
            scale = METRICS[metric].scale
            b, c = (min(max(v, 0.0), scale) for v in values[:2])
            continuous[key] = continuous.get(key, ContinuousStats()).add(b, c)


def planned_cells(gates: Sequence[Gate], strata: Sequence[StratumInfo]) -> list[Cells]:
    """Each gate with the strata it can be fed: fixed up front, so alpha splits evenly."""
    planned = []
    for gate in gates:
        fed = tuple(s for s in strata if feeds(gate, s.name, s.has_text))
        if fed:
            planned.append(Cells(gate, () if gate.metric == Metric.ERRORS else fed))
    return planned


def judged_gates(
    analysis: Analysis, strata: Sequence[StratumInfo], scopes: Scopes = NO_SCOPES
) -> list[Gate]:
    """The gates recorded and judged: the spec's (or the default set), once per scope."""
    return scopes.gates(gates_of(analysis), [s.name for s in strata])


def evaluate(
    analysis: Analysis,
    state: AnalysisState,
    strata: Sequence[StratumInfo],
    max_samples: int,
    scopes: Scopes = NO_SCOPES,
) -> tuple[list[GateResult], Outcome]:
    """Every gate's results, and the outcome (a Fail of a pinnable capability pins it)."""
    planned = planned_cells(judged_gates(analysis, strata, scopes), strata)
    judge_cells = CellJudge(float(analysis.alpha), planned)
    results = [
        result
        for cells in planned
        for result in judge_cells.results(cells, state.binary, state.betting)
    ]
    return results, scopes.outcome(results, state.samples, max_samples)
