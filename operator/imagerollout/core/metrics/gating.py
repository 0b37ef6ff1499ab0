"""The production-traffic gates inside the state machine.

While users reach both arms (0% < weight < 100%), an evaluation is due every `interval`.
Each gate reads its open window (since its last conclusive one) and is judged; the first
Fail rolls back. A step completes only when every gate has minWindows conclusive windows at
that step and its latest window passed, so missing data and low traffic hold the rollout;
spec.metrics.inconclusive can pause or abort after `limit` evaluations in a row with
missing or bad data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from imagerollout.api.metric_gates import (
    InconclusiveAction,
    MetricGateStatus,
    MetricsAnalysis,
    MetricsStatus,
)
from imagerollout.api.v1alpha1 import PauseCondition, Phase, RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.durations import parse_duration, parse_time
from imagerollout.core.judge import Verdict, split_alpha
from imagerollout.core.metrics.promql import is_count_gate
from imagerollout.core.metrics.windows import (
    GateReading,
    MetricsReading,
    WindowResult,
    judge_window,
)
from imagerollout.core.rollout.draft import Draft


@dataclass(frozen=True)
class MetricsVerdict:
    failed: str | None = None  # a gate failed: roll back
    abort: str | None = None  # the Abort policy's limit was reached
    allows_completion: bool = True
    summary: str = ""


def window_due(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> int | None:
    """Seconds since the last window when a new one is due; None when none is."""
    metrics = spec.metrics
    if metrics is None or not _comparing(spec, status) or status.step_started_at is None:
        return None
    last = status.metrics.last_evaluation if status.metrics else None
    seconds = _seconds_since(now, status.step_started_at, last)
    return seconds if seconds >= parse_duration(metrics.interval).total_seconds() else None


def window_opened(spec: RolloutSpec, status: RolloutStatus) -> datetime | None:
    """When the open metric window began (a window is due one interval later); None when no
    window is being collected."""
    metrics = spec.metrics
    if metrics is None or not _comparing(spec, status) or status.step_started_at is None:
        return None
    start = parse_time(status.step_started_at)
    last = status.metrics.last_evaluation if status.metrics else None
    return start if last is None else max(start, parse_time(last))


def gate_windows(spec: RolloutSpec, status: RolloutStatus, now: datetime) -> dict[str, int]:
    """Seconds each gate's open window spans: since its last conclusive window ended, or
    since the step began."""
    if spec.metrics is None or status.step_started_at is None:
        return {}
    step_start = status.step_started_at
    opened = {g.gate: g.window_start for g in (status.metrics.gates if status.metrics else [])}
    return {
        gate.name: max(_seconds_since(now, step_start, opened.get(gate.name)), 1)
        for gate in spec.metrics.gates
    }


def _seconds_since(now: datetime, step_started_at: str, later: str | None) -> int:
    """Whole seconds since the step began, or since `later` when that came after it."""
    start = parse_time(step_started_at)
    if later is not None:
        start = max(start, parse_time(later))
    return int((now - start).total_seconds())


def _comparing(spec: RolloutSpec, status: RolloutStatus) -> bool:
    """Users reach both arms at the current step's weight."""
    index = status.current_step_index
    if status.phase not in (Phase.PROGRESSING, Phase.PAUSED) or status.abort or index is None:
        return False
    if index >= len(spec.steps) or spec.steps[index].weight != status.canary_weight:
        return False
    return 0 < status.canary_weight < 100


def judge_metrics(spec: RolloutSpec, d: Draft, reading: MetricsReading | None) -> MetricsVerdict:
    metrics = spec.metrics
    if metrics is None:
        return MetricsVerdict()
    index = d.status.current_step_index or 0
    before = _for_step(d.status.metrics or MetricsStatus(), index)
    after = before if reading is None else _fold(metrics, before, reading, d)
    d.set(metrics=after)
    failed = next((g for g in after.gates if g.verdict == Verdict.FAIL.value), None)
    if failed is not None:
        return MetricsVerdict(failed=f"{failed.gate}: {failed.reason}")
    abort = _apply_policy(metrics, d, after)
    # The step's weight, which this pass may only now be setting on the route.
    weight = spec.steps[index].weight if index < len(spec.steps) else 100
    ready = _ready(metrics, weight, after)
    summary = _summary(metrics, after) if 0 < weight < 100 else ""
    return MetricsVerdict(abort=abort, allows_completion=ready, summary=summary)


def _for_step(status: MetricsStatus, index: int) -> MetricsStatus:
    if status.step_index == index:
        return status
    gates = [g.model_copy(update={"windows": 0}) for g in status.gates]
    return status.model_copy(update={"step_index": index, "gates": gates})


def _fold(
    metrics: MetricsAnalysis, before: MetricsStatus, reading: MetricsReading, d: Draft
) -> MetricsStatus:
    previous = {g.gate: g for g in before.gates}
    readings = {r.gate: r for r in reading.gates}
    counted = sum(is_count_gate(g) for g in metrics.gates)
    alpha = split_alpha(float(metrics.alpha), max(counted, 1))
    stale_after = parse_duration(metrics.stale_after).total_seconds()
    results: list[WindowResult] = []
    for gate in metrics.gates:
        gate_reading = readings.get(gate.name) or GateReading(gate.name, error="not queried")
        if reading.error is not None:
            gate_reading = GateReading(gate.name, error=reading.error)
        prior = previous.get(gate.name) or MetricGateStatus(gate=gate.name, verdict="")
        results.append(judge_window(gate, gate_reading, prior, stale_after, alpha, d.stamp))
    inconclusive = any(r.data_problem for r in results)
    after = before.model_copy(
        update={
            "evaluations": before.evaluations + 1,
            "last_evaluation": d.stamp,
            "window_seconds": reading.window_seconds,
            "inconclusive_streak": before.inconclusive_streak + 1 if inconclusive else 0,
            "gates": [r.status for r in results],
        }
    )
    _announce(metrics, before, after, d)
    return after


def _announce(
    metrics: MetricsAnalysis, before: MetricsStatus, after: MetricsStatus, d: Draft
) -> None:
    for gate in after.gates:
        if gate.verdict == Verdict.FAIL.value:
            d.event(R.METRIC_GATE_FAILED, f"{gate.gate}: {gate.reason}", warning=True)
    if after.inconclusive_streak == 1:
        d.event(R.METRICS_INCONCLUSIVE, _problems(after), warning=True)
    elif before.inconclusive_streak and not after.inconclusive_streak:
        d.event(
            R.METRICS_CONCLUSIVE,
            f"metrics conclusive again after {before.inconclusive_streak} inconclusive windows",
        )
    if _all_ready(metrics, after) and not _all_ready(metrics, before):
        values = "; ".join(f"{g.gate} {g.canary} (baseline {g.baseline})" for g in after.gates)
        step = (after.step_index or 0) + 1
        d.event(R.METRIC_GATES_PASSED, f"step {step}: {metrics.min_windows} windows; {values}")


def _problems(status: MetricsStatus) -> str:
    return "; ".join(
        f"{g.gate}: {g.reason}" for g in status.gates if g.verdict == Verdict.INCONCLUSIVE.value
    )


def _apply_policy(metrics: MetricsAnalysis, d: Draft, status: MetricsStatus) -> str | None:
    policy = metrics.inconclusive
    if status.inconclusive_streak == 0:
        if status.inconclusive_paused:
            d.set(metrics=status.model_copy(update={"inconclusive_paused": False}))
        return None
    if status.inconclusive_streak < policy.limit or policy.action == InconclusiveAction.HOLD:
        return None
    why = f"metrics inconclusive {status.inconclusive_streak} times in a row: {_problems(status)}"
    if policy.action == InconclusiveAction.ABORT:
        return why
    if not status.inconclusive_paused:
        pause = PauseCondition(reason=R.INCONCLUSIVE_METRICS, start_time=d.stamp)
        d.set(pause_conditions=[*d.status.pause_conditions, pause])
        d.set(metrics=status.model_copy(update={"inconclusive_paused": True}))
    return None


def _all_ready(metrics: MetricsAnalysis, status: MetricsStatus) -> bool:
    """Enough conclusive windows, and the latest window passed (no data problem, no breach)."""
    latest = {g.gate: g for g in status.gates}
    return status.inconclusive_streak == 0 and all(
        g.name in latest
        and latest[g.name].windows >= metrics.min_windows
        and latest[g.name].verdict == Verdict.PASS.value
        for g in metrics.gates
    )


def _ready(metrics: MetricsAnalysis, weight: int, status: MetricsStatus) -> bool:
    if not 0 < weight < 100:
        return True  # only both arms serving users can be compared
    return _all_ready(metrics, status)


def _summary(metrics: MetricsAnalysis, status: MetricsStatus) -> str:
    if status.inconclusive_streak:
        return f"metrics inconclusive: {_problems(status)}"
    if not status.gates:
        return ""
    least = min((g.windows for g in status.gates), default=0)
    return f"metrics {min(least, metrics.min_windows)}/{metrics.min_windows} windows"
