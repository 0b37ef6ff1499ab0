"""The quality gates inside the state machine: judge the sampler's statistics each pass.

Stage 0 probes the canary at 0% traffic; every step then needs its minimum of new pairs, and
the last step completes only when every gate has passed. The first Fail rolls back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from imagerollout.api.capabilities import OnCapabilityFailure
from imagerollout.api.v1alpha1 import (
    AnalysisStatus,
    ArmSnapshot,
    FullTrafficPolicy,
    Gate,
    GateStatus,
    InconclusivePolicy,
    Metric,
    PauseCondition,
    RolloutSpec,
    RolloutStatus,
    Snapshot,
)
from imagerollout.core import reasons as R
from imagerollout.core.judge import (
    BinaryStats,
    ContinuousStats,
    GateResult,
    Outcome,
    Verdict,
    binary_gate,
    continuous_gate,
)
from imagerollout.core.judge.wsr import BettingState
from imagerollout.core.observations import Observations
from imagerollout.core.quality.analysis import (
    SNAPSHOT_COST,
    SNAPSHOT_LATENCY,
    SNAPSHOT_TEXT,
    AnalysisState,
    evaluate,
)
from imagerollout.core.quality.cells import cell_gate, stratum_cell
from imagerollout.core.quality.gates import METRICS, gates_of
from imagerollout.core.quality.scopes import Scopes, scope_of, told
from imagerollout.core.rollout.draft import Draft

MAX_GATE_STATUSES = 128  # status.analysis.gates' limit: the worst first are kept


@dataclass(frozen=True)
class GateVerdict:
    outcome: Outcome
    why: str
    # Capabilities whose strata failed and that are pinned rather than rolled back, with why.
    pins: dict[str, str] = field(default_factory=dict)


def scopes_for(spec: RolloutSpec, status: RolloutStatus) -> Scopes:
    """The capabilities judged apart; with Pin (or already pinned) a Fail pins them."""
    pin = spec.on_capability_failure == OnCapabilityFailure.PIN
    pinnable = [c.name for c in spec.capabilities] if pin else []
    return Scopes.of(spec.capabilities, [*pinnable, *(p.capability for p in status.pins)])


def judge_pass(spec: RolloutSpec, d: Draft, obs: Observations) -> GateVerdict | None:
    """Judge the statistics, record them in status and post an event per new verdict."""
    analysis, seen = spec.analysis, obs.analysis
    if analysis is None or seen is None:
        return None
    before = d.status.analysis or AnalysisStatus()
    limit = analysis.max_samples * (2 if before.extended else 1)
    scopes = scopes_for(spec, d.status)
    results, outcome = evaluate(analysis, seen.state, seen.strata, limit, scopes)
    _announce(d, before, results)
    d.set(
        analysis=before.model_copy(
            update={
                "outcome": outcome.value,
                "samples": seen.state.samples,
                "max_samples": limit,
                "gates": gate_statuses(results),
                "snapshot": snapshot(seen.state, float(analysis.alpha), gates_of(analysis)),
                "evidence": seen.evidence,
                "state": seen.state.to_json(),
            }
        )
    )
    failures = scopes.failures(results)
    pins = {c: told(r) for c, r in failures.items() if c in scopes.pinnable}
    rolling = [r for r in _worst_first(results) if scope_of(r.gate) not in pins]
    failing = next((_told(r) for r in rolling if r.verdict == Verdict.FAIL), "")
    return GateVerdict(outcome, failing or _summary(results, seen.state.samples), pins)


def stage0_message(spec: RolloutSpec, d: Draft) -> str | None:
    """While stage 0 runs: what it is doing; None once it has its pairs."""
    analysis, status = spec.analysis, d.status
    if analysis is None or status.current_step_index or status.canary_weight:
        return None
    samples = status.analysis.samples if status.analysis else 0
    if samples >= analysis.stage0.samples:
        return None
    return f"stage 0: {samples}/{analysis.stage0.samples} pairs at 0% traffic"


def step_allows_completion(spec: RolloutSpec, d: Draft, verdict: GateVerdict | None) -> bool:
    analysis, status = spec.analysis, d.status.analysis
    if analysis is None:
        return True
    if verdict is None or status is None:
        return False  # gates configured but not judged this pass: never advance blind
    if status.samples - status.step_start_samples < analysis.min_samples:
        return False
    accepted = status.inconclusive_paused and not d.status.pause_conditions
    return not needs_pass(spec, d) or verdict.outcome == Outcome.PROMOTE or accepted


def needs_pass(spec: RolloutSpec, d: Draft) -> bool:
    """Completing this step needs every gate passed: it leads to 100% or to promotion.

    With fullTraffic AfterPass the step before a 100% step waits too, so an undecided judge
    pauses at the last partial weight instead of with every user on the canary.
    """
    analysis = spec.analysis
    index = d.status.current_step_index or 0
    if analysis is None or index >= len(spec.steps) - 1:
        return analysis is not None
    upcoming = spec.steps[index + 1].weight
    return analysis.full_traffic == FullTrafficPolicy.AFTER_PASS and upcoming >= 100


def full_traffic_hold(spec: RolloutSpec, d: Draft, verdict: GateVerdict | None) -> str | None:
    """Status words while a step holds for the gates before full traffic, else None."""
    if verdict is None or verdict.outcome == Outcome.PROMOTE or not needs_pass(spec, d):
        return None
    if (d.status.current_step_index or 0) >= len(spec.steps) - 1:
        return "promotion waits for every quality gate to pass"
    return "100% waits for every quality gate to pass (fullTraffic: AfterPass)"


def mark_step_start(d: Draft) -> None:
    status = d.status.analysis
    if status is not None:
        d.set(analysis=status.model_copy(update={"step_start_samples": status.samples}))


def handle_inconclusive(spec: RolloutSpec, d: Draft, verdict: GateVerdict) -> bool:
    """Apply spec.analysis.inconclusive; True when the rollout must abort."""
    analysis, status = spec.analysis, d.status.analysis
    assert analysis is not None
    assert status is not None
    policy = analysis.inconclusive
    if policy == InconclusivePolicy.ABORT:
        return True
    if policy == InconclusivePolicy.EXTEND and not status.extended:
        d.set(analysis=status.model_copy(update={"extended": True}))
        d.event(R.ANALYSIS_EXTENDED, f"{verdict.why}; sampling up to {2 * analysis.max_samples}")
        return False
    if not status.inconclusive_paused:
        pause = PauseCondition(reason=R.INCONCLUSIVE_ANALYSIS, start_time=d.stamp)
        d.set(pause_conditions=[*d.status.pause_conditions, pause])
        d.set(analysis=status.model_copy(update={"inconclusive_paused": True}))
        d.event(R.ANALYSIS_INCONCLUSIVE, f"{verdict.why}; paused: promote or abort", warning=True)
    return False


def _announce(d: Draft, before: AnalysisStatus, results: list[GateResult]) -> None:
    previous = {g.gate: g.verdict for g in before.gates}
    named = {
        cell_gate(r.gate) for r in results if stratum_cell(r.gate) and r.verdict == Verdict.FAIL
    }
    for result in results:
        if stratum_cell(result.gate) and result.verdict != Verdict.FAIL:
            continue  # a stratum passes with its gate: one event for the gate says it
        if result.gate in named:
            continue  # the failing strata name the regression: no second event for the gate
        if result.verdict != Verdict.INCONCLUSIVE and previous.get(result.gate) != result.verdict:
            reason = R.GATE_PASSED if result.verdict == Verdict.PASS else R.GATE_FAILED
            d.event(reason, _told(result), warning=result.verdict == Verdict.FAIL)


def _told(result: GateResult) -> str:
    return f"{result.gate}: {result.reason}"


def _worst_first(results: list[GateResult]) -> list[GateResult]:
    """Fail, Inconclusive, Pass; within each, a gate's strata before the gate itself."""
    order = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}
    return sorted(results, key=lambda r: (order[r.verdict], not stratum_cell(r.gate), r.gate))


def _num(value: float) -> str:
    return f"{value:.4g}"


def gate_statuses(results: list[GateResult]) -> list[GateStatus]:
    """status.analysis.gates: worst first, bounded (also the judge command's report)."""
    return [_gate_status(r) for r in _worst_first(results)][:MAX_GATE_STATUSES]


def _gate_status(result: GateResult) -> GateStatus:
    return GateStatus(
        gate=result.gate,
        verdict=result.verdict.value,
        samples=result.samples,
        baseline=_num(result.baseline),
        canary=_num(result.canary),
        effect=_num(result.effect),
        lower=_num(result.lower),
        upper=_num(result.upper),
    )


def snapshot(state: AnalysisState, alpha: float, gates: Sequence[Gate] = ()) -> Snapshot:
    text = state.binary.get(SNAPSHOT_TEXT)
    latency = state.continuous.get(SNAPSHOT_LATENCY)
    cost = state.continuous.get(SNAPSHOT_COST)
    priced = next((g for g in gates if g.metric == Metric.NET_COST), None)
    net = state.betting.get(priced.name) if priced else None

    def arm(canary: bool, errors: int) -> ArmSnapshot:
        return ArmSnapshot(
            typography_accuracy=_num(_rate(text, canary)) if text and text.n else None,
            latency_seconds=_mean(latency, canary),
            cost_per_image=_mean(cost, canary),
            net_cost_per_usable_image=_net_cost(net, cost, text, canary),
            errors=errors,
            error_rate=_num(errors / state.samples) if state.samples else None,
        )

    snapshot = Snapshot(
        baseline=arm(False, state.baseline_errors), canary=arm(True, state.canary_errors)
    )
    if text and text.n:
        bounds = binary_gate(SNAPSHOT_TEXT, text, 0.0, alpha, 1)
        snapshot = snapshot.model_copy(
            update={"typography_effect_bounds": f"[{_num(bounds.lower)}, {_num(bounds.upper)}]"}
        )
    if latency and latency.n:
        spec = METRICS[Metric.LATENCY]
        bounds = continuous_gate(SNAPSHOT_LATENCY, latency, 0.0, alpha, 1, False, spec.scale)
        snapshot = snapshot.model_copy(
            update={"latency_effect_bounds": f"[{_num(bounds.lower)}, {_num(bounds.upper)}]"}
        )
    return snapshot


def _net_cost(
    net: BettingState | None,
    cost: ContinuousStats | None,
    text: BinaryStats | None,
    canary: bool,
) -> str | None:
    """What one usable image costs: with a NetCost gate its mean (every failed image reworked),
    else the cost per image over the share of images that passed their text check."""
    if net is not None and net.n:
        return _num((net.sum_c if canary else net.sum_b) / net.n)
    if cost is None or not cost.n or text is None or not text.n:
        return None
    rate = _rate(text, canary)
    return _num((cost.mean_c if canary else cost.mean_b) / rate) if rate > 0 else None


def _mean(stats: ContinuousStats | None, canary: bool) -> str | None:
    if stats is None or not stats.n:
        return None
    return _num(stats.mean_c if canary else stats.mean_b)


def _rate(stats: BinaryStats, canary: bool) -> float:
    passed = stats.both + (stats.canary_only if canary else stats.baseline_only)
    return passed / stats.n


def _summary(results: list[GateResult], samples: int) -> str:
    gates = [r for r in results if not stratum_cell(r.gate)]
    passed = sum(r.verdict == Verdict.PASS for r in gates)
    return f"{passed}/{len(gates)} gates passed after {samples} pairs"
