"""Judge one window of one production-traffic gate: Pass, Fail or Inconclusive.

Missing data is never a Pass: an unreachable provider, a query error, an empty result,
too few requests, a stale series or NaN each make the window Inconclusive, and only
conclusive windows count towards a step's minWindows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from imagerollout.api.metric_gates import MetricGate, MetricGateStatus
from imagerollout.core.judge import Verdict
from imagerollout.core.judge.counts import CountWindow, accumulate, e_value, rejects
from imagerollout.core.metrics.promql import errors_required, is_count_gate


@dataclass(frozen=True)
class ArmReading:
    value: float | None = None  # value gates: the value; count gates: bad events
    count: float | None = None  # requests in the window
    age: float | None = None  # seconds since the arm's newest sample


@dataclass(frozen=True)
class GateReading:
    gate: str
    canary: ArmReading = field(default_factory=ArmReading)
    baseline: ArmReading = field(default_factory=ArmReading)
    error: str | None = None  # the provider could not answer
    window_seconds: int = 0  # the gate's open window, which the queries covered


@dataclass(frozen=True)
class MetricsReading:
    """The provider's answers for one window, one GateReading per gate."""

    window_seconds: int
    gates: tuple[GateReading, ...] = field(default_factory=tuple)
    error: str | None = None  # the provider is unusable: every gate is Inconclusive


@dataclass(frozen=True)
class WindowResult:
    status: MetricGateStatus
    data_problem: bool  # Inconclusive because data was missing or bad


def judge_window(
    gate: MetricGate,
    reading: GateReading,
    before: MetricGateStatus,
    stale_after: float,
    alpha: float,
    now: str,
) -> WindowResult:
    """Judge the gate's open window. It closes (the next starts at `now`) when conclusive;
    missing data and too few requests leave it open, so the next query covers more time."""
    counted = is_count_gate(gate)
    status = before.model_copy(
        update={
            "canary_count": _int(reading.canary.count),
            "baseline_count": _int(reading.baseline.count),
            "canary": None,
            "baseline": None,
            "bound": None,
        }
    )
    arms = _arms(gate, reading, counted)
    problem = reading.error or _first(_count_problem(n, a, gate, stale_after) for n, a in arms)
    if problem is None:
        short = _first(_too_few(n, a, gate, reading.window_seconds) for n, a in arms)
        if short is not None:  # low traffic: wait for more, not a fault
            return WindowResult(_set(status, Verdict.INCONCLUSIVE, short), False)
        problem = _first(_value_problem(n, a, gate, counted) for n, a in arms)
    if problem is not None:
        return WindowResult(_set(status, Verdict.INCONCLUSIVE, problem), True)
    status = status.model_copy(update={"window_start": now})
    if counted:
        window = _count_window(reading)
        if window is not None:
            evidence = accumulate(before.evidence, window, _max_ratio(gate))
            status = status.model_copy(update={"evidence": evidence})
        return _judge_counts(gate, reading, status, alpha)
    return _judge_values(gate, reading, status)


def _arms(gate: MetricGate, reading: GateReading, counted: bool) -> list[tuple[str, ArmReading]]:
    """The arms the gate reads: the baseline only when it is compared with."""
    compared = counted or gate.max_degradation is not None
    return [("canary", reading.canary)] + ([("baseline", reading.baseline)] if compared else [])


def _first(problems: Iterable[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)


def _guarded(gate: MetricGate) -> bool:
    """Built-in templates and custom gates with a countQuery count the requests."""
    return gate.template is not None or gate.count_query is not None


def _count_problem(name: str, arm: ArmReading, gate: MetricGate, stale_after: float) -> str | None:
    if _guarded(gate):
        if arm.count is None:
            return f"no {name} requests in the window (empty result)"
        if not math.isfinite(arm.count):
            return f"{name} request count is {arm.count}"
    if arm.age is not None and not math.isfinite(arm.age):
        return f"age of the newest {name} sample is {arm.age}"
    if arm.age is not None and arm.age > stale_after:
        return f"newest {name} sample is {arm.age:.0f}s old (staleAfter {stale_after:.0f}s)"
    return None


def _too_few(name: str, arm: ArmReading, gate: MetricGate, seconds: int) -> str | None:
    """The minCount guard; checked before the value, which few requests can leave NaN."""
    if not _guarded(gate) or arm.count is None or arm.count >= gate.min_count:
        return None
    return (
        f"collecting: {arm.count:.0f} {name} requests in {seconds}s, minCount is {gate.min_count}"
    )


def _value_problem(name: str, arm: ArmReading, gate: MetricGate, counted: bool) -> str | None:
    if counted:
        bad = arm.value
        if bad is None and errors_required(gate):
            return f"empty result for the {name}'s bad events (check the query's labels)"
        return None if bad is None or math.isfinite(bad) else f"{name} error count is {bad}"
    if arm.value is None:
        return f"empty result for the {name}"
    if not math.isfinite(arm.value):
        return f"{name} value is {arm.value}"
    return None


def _judge_counts(
    gate: MetricGate, reading: GateReading, status: MetricGateStatus, alpha: float
) -> WindowResult:
    canary, baseline = _rate(reading.canary), _rate(reading.baseline)
    max_ratio = _max_ratio(gate)
    status = status.model_copy(
        update={"canary": _num(canary), "baseline": _num(baseline), "bound": f"x{max_ratio:g}"}
    )
    evidence = e_value(status.evidence)
    if rejects(status.evidence, alpha):
        why = (
            f"canary rate {canary:.4g} vs baseline {baseline:.4g}: above {max_ratio:g}x "
            f"the baseline's (e-value {evidence:.3g} >= {1 / alpha:.3g})"
        )
        return WindowResult(_set(status, Verdict.FAIL, why), False)
    breach = _threshold_breach(gate, canary)
    return _breach_or_pass(gate, status, breach, f"e-value {evidence:.3g} < {1 / alpha:.3g}")


def _judge_values(gate: MetricGate, reading: GateReading, status: MetricGateStatus) -> WindowResult:
    canary = reading.canary.value
    assert canary is not None
    baseline = reading.baseline.value
    update: dict[str, str | None] = {"canary": _num(canary), "baseline": _num(baseline)}
    breach = _threshold_breach(gate, canary)
    if gate.max_degradation is not None and baseline is not None:
        limit = baseline + float(gate.max_degradation)
        update["bound"] = _num(limit)
        if breach is None and canary > limit:
            breach = f"canary {canary:.4g} > baseline {baseline:.4g} + {gate.max_degradation}"
    elif gate.threshold is not None:
        update["bound"] = _threshold_text(gate)
    status = status.model_copy(update=update)
    return _breach_or_pass(gate, status, breach, f"canary {canary:.4g}")


def _breach_or_pass(
    gate: MetricGate, status: MetricGateStatus, breach: str | None, fine: str
) -> WindowResult:
    if breach is None:
        passed = status.model_copy(update={"windows": status.windows + 1})
        return WindowResult(_set(passed, Verdict.PASS, fine), False)
    failures = status.failures + 1
    status = status.model_copy(update={"failures": failures})
    if failures > gate.failure_limit:
        return WindowResult(_set(status, Verdict.FAIL, breach), False)
    tolerated = f"{breach} (breach {failures}, failureLimit {gate.failure_limit})"
    return WindowResult(_set(status, Verdict.INCONCLUSIVE, tolerated), False)


def _threshold_breach(gate: MetricGate, canary: float) -> str | None:
    threshold = gate.threshold
    if threshold is None:
        return None
    if threshold.max is not None and canary > float(threshold.max):
        return f"canary {canary:.4g} > threshold max {threshold.max}"
    if threshold.min is not None and canary < float(threshold.min):
        return f"canary {canary:.4g} < threshold min {threshold.min}"
    return None


def _threshold_text(gate: MetricGate) -> str:
    assert gate.threshold is not None
    low, high = gate.threshold.min, gate.threshold.max
    return f"[{low or '-inf'}, {high or 'inf'}]"


def _count_window(reading: GateReading) -> CountWindow | None:
    c, b = reading.canary, reading.baseline
    if c.count is None or b.count is None:
        return None
    numbers = (c.value or 0.0, c.count, b.value or 0.0, b.count)
    if not all(math.isfinite(n) for n in numbers):
        return None
    return CountWindow(c.value or 0.0, c.count, b.value or 0.0, b.count)


def _rate(arm: ArmReading) -> float:
    return (arm.value or 0.0) / arm.count if arm.count else 0.0


def _max_ratio(gate: MetricGate) -> float:
    return float(gate.max_ratio) if gate.max_ratio is not None else 1.0


def _set(status: MetricGateStatus, verdict: Verdict, reason: str) -> MetricGateStatus:
    return status.model_copy(update={"verdict": verdict.value, "reason": reason})


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.4g}"


def _int(value: float | None) -> int | None:
    return round(value) if value is not None and math.isfinite(value) else None
