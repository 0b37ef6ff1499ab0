"""The production-traffic gates inside decide(): windows, Fail, the inconclusive policy, steps."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pytest

from imagerollout.api.metric_gates import MetricGateStatus, MetricsAnalysis, MetricsStatus
from imagerollout.api.v1alpha1 import PauseCondition, Phase, RolloutSpec, RolloutStatus, Step
from imagerollout.core import reasons as R
from imagerollout.core.judge.counts import CountWindow, accumulate
from imagerollout.core.metrics.gating import gate_windows, judge_metrics, window_due
from imagerollout.core.metrics.windows import ArmReading, GateReading, MetricsReading
from imagerollout.core.observations import Observations
from imagerollout.core.rollout.actions import Decision, ScaleCanary, SetWeight
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.draft import Draft
from tests.core.builders import (
    CANARY_IMAGE,
    NOW,
    SPEC,
    STABLE_IMAGE,
    ago,
    at,
    completes_step,
    completions,
    condition_of,
    deployment,
    held,
    make_obs,
    make_spec,
    primary,
    reasons,
    rolling,
    warnings,
)
from tests.core.fake_cluster import FakeCluster, Run

GATES = ("latency", "errors")


def spec(steps: tuple[Step, ...] | None = None, **metrics: Any) -> RolloutSpec:
    """SPEC (steps 5, 25, 50, 100, each held 30s) with two gates, a window every 30s."""
    manifest = {
        "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090"}},
        "interval": "30s",
        "minWindows": 2,
        "gates": [
            {"name": "latency", "template": "LatencyP95", "maxDegradation": "0.05"},
            {"name": "errors", "template": "ErrorRate"},
        ],
        **metrics,
    }
    base = SPEC if steps is None else make_spec(steps)
    return base.model_copy(update={"metrics": MetricsAnalysis.model_validate(manifest)})


METRICS_SPEC = spec()


def policy(action: str, limit: int = 2) -> RolloutSpec:
    return spec(inconclusive={"action": action, "limit": limit})


def gates_status(windows: int = 0, verdict: str = "Pass", **fields: Any) -> MetricsStatus:
    """status.metrics as an earlier pass left it, at step 0 unless said otherwise."""
    gates = [MetricGateStatus(gate=g, verdict=verdict, windows=windows) for g in GATES]
    base: dict[str, Any] = {
        "evaluations": 3,
        "last_evaluation": ago(30),
        "step_index": 0,
        "gates": gates,
    }
    return MetricsStatus(**{**base, **fields})


def arm(value: float | None, count: float | None = 400) -> ArmReading:
    return ArmReading(value=value, count=count, age=3)


def window(
    latency: tuple[float | None, float | None] = (0.5, 0.5),
    errors: tuple[float, float] = (1, 1),
    canary_count: float | None = 400,
    error: str | None = None,
) -> MetricsReading:
    return MetricsReading(
        30,
        (
            GateReading("latency", arm(latency[0], canary_count), arm(latency[1])),
            GateReading("errors", arm(errors[0], canary_count), arm(errors[1])),
        ),
        error=error,
    )


GOOD = window()
SLOW = window(latency=(0.9, 0.5))
EMPTY = window(canary_count=None)  # the canary's request count came back empty
DOWN = window(error="Prometheus unreachable: connection refused")

CANARY_READY = deployment(CANARY_IMAGE)
STABLE_PRIMARY = primary()


def obs(reading: MetricsReading | None, route: int = 5) -> Observations:
    return replace(make_obs(CANARY_READY, STABLE_PRIMARY, route=route), metrics=reading)


def at_step_0(**fields: Any) -> RolloutStatus:
    """Step 1 (5%) held for 60s, past its 30s pause: only the gates can hold it."""
    return rolling(0, 5, step_started_at=ago(60), **fields)


def run(
    status: RolloutStatus, reading: MetricsReading | None, s: RolloutSpec = METRICS_SPEC
) -> Decision:
    return decide(s, status, obs(reading, status.canary_weight), NOW)


def metrics_of(decision: Decision) -> MetricsStatus:
    assert decision.status.metrics is not None
    return decision.status.metrics


# --- window_due ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    status: RolloutStatus
    expected: int | None
    spec: RolloutSpec = METRICS_SPEC
    now: datetime = NOW


DUE = [
    pytest.param(Due(rolling(0, 5, step_started_at=ago(29)), None), id="before-interval"),
    pytest.param(Due(rolling(0, 5, step_started_at=ago(30)), 30), id="at-interval"),
    pytest.param(Due(rolling(0, 5, step_started_at=ago(95)), 95), id="long-after"),
    pytest.param(
        Due(rolling(1, 25, step_started_at=ago(29)), 31, now=at(2)), id="now-moves-forward"
    ),
    pytest.param(
        Due(
            rolling(0, 5, step_started_at=ago(300), metrics=gates_status(last_evaluation=ago(10))),
            None,
        ),
        id="counts-from-last-evaluation",
    ),
    pytest.param(
        Due(
            rolling(0, 5, step_started_at=ago(300), metrics=gates_status(last_evaluation=ago(40))),
            40,
        ),
        id="due-after-last-evaluation",
    ),
    pytest.param(
        Due(
            rolling(1, 25, step_started_at=ago(35), metrics=gates_status(last_evaluation=ago(50))),
            35,
        ),
        id="evaluation-of-the-previous-step-is-ignored",
    ),
    pytest.param(
        Due(
            rolling(0, 5, step_started_at=ago(10), metrics=gates_status(last_evaluation=ago(50))),
            None,
        ),
        id="new-step-waits-a-full-interval",
    ),
    pytest.param(
        Due(rolling(0, 5, step_started_at=ago(60), phase=Phase.PAUSED), 60), id="paused-still-due"
    ),
    pytest.param(Due(rolling(0, 0, step_started_at=ago(60)), None), id="weight-0-stage-0"),
    pytest.param(Due(rolling(3, 100, step_started_at=ago(60)), None), id="weight-100"),
    pytest.param(
        Due(rolling(1, 25, step_started_at=ago(60), abort=True), None), id="abort-requested"
    ),
    pytest.param(
        Due(rolling(1, 25, step_started_at=ago(60), phase=Phase.DEGRADED, abort=True), None),
        id="rolled-back",
    ),
    pytest.param(
        Due(rolling(1, 5, step_started_at=ago(60)), None), id="step-weight-not-reached-yet"
    ),
    pytest.param(Due(rolling(1, 25), None), id="step-not-started"),
    pytest.param(
        Due(rolling(4, 100, step_started_at=ago(60), phase=Phase.PROMOTING), None), id="promoting"
    ),
    pytest.param(Due(rolling(0, 5, step_started_at=ago(60)), None, spec=SPEC), id="no-metrics"),
]


@pytest.mark.parametrize("due", DUE)
def test_window_due(due: Due) -> None:
    assert window_due(due.spec, due.status, due.now) == due.expected


def test_window_due_interval_follows_the_spec() -> None:
    status = rolling(0, 5, step_started_at=ago(90))
    assert window_due(spec(interval="2m"), status, NOW) is None
    assert window_due(spec(interval="1m30s"), status, NOW) == 90


# --- A failing window ---------------------------------------------------------------------


def test_a_failing_window_rolls_back() -> None:
    decision = run(at_step_0(metrics=gates_status(windows=1)), SLOW)
    status = decision.status
    assert status.phase == Phase.DEGRADED
    assert status.abort
    assert status.canary_weight == 0
    assert SetWeight(0) in decision.actions
    assert ScaleCanary(0) in decision.actions
    assert R.METRIC_GATE_FAILED in warnings(decision)
    assert R.METRICS_FAILED in warnings(decision)
    assert not completes_step(decision)
    assert reasons(decision).index(R.METRIC_GATE_FAILED) < reasons(decision).index(R.METRICS_FAILED)
    failed = next(e.message for e in decision.events if e.reason == R.METRICS_FAILED)
    assert failed.startswith("latency: canary 0.9 > baseline 0.5 + 0.05 at step 1")
    assert condition_of(status, R.PROGRESSING) == ("False", R.METRICS_FAILED)
    gates = {g.gate: g.verdict for g in metrics_of(decision).gates}
    assert gates == {"latency": "Fail", "errors": "Pass"}
    assert metrics_of(decision).evaluations == 4


def test_the_rollback_is_announced_once() -> None:
    first = run(at_step_0(), SLOW)
    scaled_down = make_obs(deployment(CANARY_IMAGE, replicas=0), STABLE_PRIMARY, route=0)
    again = decide(METRICS_SPEC, first.status, scaled_down, at(10))
    assert again.status.phase == Phase.DEGRADED
    assert R.METRICS_FAILED not in reasons(again)
    assert again.actions == ()


def test_count_gate_fails_on_errors_concentrated_on_the_canary() -> None:
    # 5% of requests: 1 error expected of the window's 21, 11 seen
    latency = GateReading("latency", arm(0.5), arm(0.5))
    errors = GateReading("errors", arm(11, count=50), arm(10, count=950))
    decision = run(at_step_0(), MetricsReading(30, (latency, errors)))
    assert decision.status.phase == Phase.DEGRADED
    failed = next(e.message for e in decision.events if e.reason == R.METRIC_GATE_FAILED)
    assert failed.startswith("errors: canary rate 0.22 vs baseline 0.01053: above 1x")


# --- Inconclusive windows and the policy ---------------------------------------------------


@pytest.mark.parametrize("reading", [EMPTY, DOWN], ids=["empty-count", "provider-down"])
def test_an_inconclusive_window_holds_the_step(reading: MetricsReading) -> None:
    # two conclusive windows so far: a good third one would complete the step
    decision = run(at_step_0(metrics=gates_status(windows=2)), reading)
    assert decision.status.phase == Phase.PROGRESSING
    assert decision.status.current_step_index == 0
    assert not completes_step(decision)
    assert decision.actions == ()
    assert warnings(decision) == [R.METRICS_INCONCLUSIVE]
    metrics = metrics_of(decision)
    assert metrics.inconclusive_streak == 1
    assert {g.windows for g in metrics.gates} == {2}
    assert "metrics inconclusive: latency: " in decision.status.message


def test_hold_never_pauses_or_aborts() -> None:
    status = at_step_0(metrics=gates_status(windows=2, inconclusive_streak=50))
    decision = run(status, EMPTY, policy("Hold", limit=1))
    assert decision.status.phase == Phase.PROGRESSING
    assert decision.status.pause_conditions == []
    assert metrics_of(decision).inconclusive_streak == 51
    assert reasons(decision) == []  # MetricsInconclusive was announced at the first one


def test_pause_after_limit_inconclusive_windows() -> None:
    s = policy("Pause", limit=2)
    first = run(at_step_0(metrics=gates_status(windows=2)), EMPTY, s)
    assert first.status.pause_conditions == []
    assert first.status.phase == Phase.PROGRESSING
    second = decide(s, first.status, obs(EMPTY), at(30))
    status = second.status
    assert status.phase == Phase.PAUSED
    assert [p.reason for p in status.pause_conditions] == [R.INCONCLUSIVE_METRICS]
    assert status.pause_conditions[0].start_time == ago(-30)
    assert condition_of(status, R.PAUSED) == ("True", R.INCONCLUSIVE_METRICS)
    assert R.ROLLOUT_PAUSED in reasons(second)
    assert metrics_of(second).inconclusive_paused
    assert second.actions == ()
    # a third inconclusive window does not pause twice
    third = decide(s, status, obs(EMPTY), at(60))
    assert [p.reason for p in third.status.pause_conditions] == [R.INCONCLUSIVE_METRICS]
    assert third.status.phase == Phase.PAUSED
    assert reasons(third) == []


def test_paused_rollout_waits_for_a_resume_even_once_data_is_back() -> None:
    pause = PauseCondition(reason=R.INCONCLUSIVE_METRICS, start_time=ago(60))
    status = at_step_0(
        phase=Phase.PAUSED,
        pause_conditions=[pause],
        metrics=gates_status(windows=2, inconclusive_streak=3, inconclusive_paused=True),
    )
    decision = run(status, GOOD, policy("Pause"))
    assert decision.status.phase == Phase.PAUSED
    assert not completes_step(decision)
    assert R.METRICS_CONCLUSIVE in reasons(decision)
    metrics = metrics_of(decision)
    assert (metrics.inconclusive_streak, metrics.inconclusive_paused) == (0, False)


def test_abort_after_limit_inconclusive_windows() -> None:
    s = policy("Abort", limit=2)
    first = run(at_step_0(metrics=gates_status(windows=2)), DOWN, s)
    assert first.status.phase == Phase.PROGRESSING
    assert SetWeight(0) not in first.actions
    second = decide(s, first.status, obs(DOWN), at(30))
    assert second.status.phase == Phase.DEGRADED
    assert second.status.abort
    assert SetWeight(0) in second.actions
    assert warnings(second) == [R.METRICS_INCONCLUSIVE]
    message = next(e.message for e in second.events if e.reason == R.METRICS_INCONCLUSIVE)
    assert message.startswith("metrics inconclusive 2 times in a row: latency: Prometheus")
    assert condition_of(second.status, R.PROGRESSING) == ("False", R.METRICS_INCONCLUSIVE)


def test_abort_limit_counts_inconclusive_windows_in_a_row_only() -> None:
    s = policy("Abort", limit=2)
    status = at_step_0(metrics=gates_status(windows=0))
    for reading, moment in ((DOWN, 0), (GOOD, 30), (DOWN, 60)):
        status = decide(s, status, obs(reading), at(moment)).status
    assert status.phase == Phase.PROGRESSING
    assert status.metrics is not None
    assert status.metrics.inconclusive_streak == 1


def test_a_tolerated_breach_is_not_missing_data() -> None:
    tolerant = spec(
        inconclusive={"action": "Abort", "limit": 1},
        gates=[
            {
                "name": "latency",
                "template": "LatencyP95",
                "maxDegradation": "0.05",
                "failureLimit": 1,
            }
        ],
    )
    reading = MetricsReading(30, (GateReading("latency", arm(0.9), arm(0.5)),))
    decision = run(at_step_0(), reading, tolerant)
    assert decision.status.phase == Phase.PROGRESSING
    metrics = metrics_of(decision)
    assert metrics.inconclusive_streak == 0
    assert (metrics.gates[0].verdict, metrics.gates[0].failures) == ("Inconclusive", 1)
    assert R.METRICS_INCONCLUSIVE not in reasons(decision)


def test_conclusive_windows_after_inconclusive_ones_are_announced() -> None:
    status = at_step_0(metrics=gates_status(windows=0, inconclusive_streak=3))
    decision = run(status, GOOD)
    assert R.METRICS_CONCLUSIVE in reasons(decision)
    message = next(e.message for e in decision.events if e.reason == R.METRICS_CONCLUSIVE)
    assert "after 3 inconclusive windows" in message
    assert metrics_of(decision).inconclusive_streak == 0
    again = decide(METRICS_SPEC, decision.status, obs(GOOD), at(30))
    assert R.METRICS_CONCLUSIVE not in reasons(again)


# --- Step readiness -----------------------------------------------------------------------


def test_one_window_of_two_does_not_complete_the_step() -> None:
    decision = run(at_step_0(metrics=gates_status(windows=0)), GOOD)
    assert not completes_step(decision)
    assert decision.status.current_step_index == 0
    assert {g.windows for g in metrics_of(decision).gates} == {1}
    assert decision.status.message.endswith("; metrics 1/2 windows")


def test_min_windows_conclusive_windows_complete_the_step() -> None:
    decision = run(at_step_0(metrics=gates_status(windows=1)), GOOD)
    assert reasons(decision) == [R.METRIC_GATES_PASSED, R.TRAFFIC_WEIGHT_UPDATED]
    assert completes_step(decision)
    passed = decision.events[0].message
    assert (
        passed == "step 1: 2 windows; latency 0.5 (baseline 0.5); errors 0.0025 (baseline 0.0025)"
    )
    assert decision.status.current_step_index == 1
    assert decision.actions == (SetWeight(25),)  # the next weight is set in the same pass


def test_every_gate_needs_its_windows() -> None:
    uneven = gates_status(windows=1)
    uneven.gates[1] = uneven.gates[1].model_copy(update={"windows": 0})
    decision = run(at_step_0(metrics=uneven), GOOD)
    assert not completes_step(decision)
    windows = {g.gate: g.windows for g in metrics_of(decision).gates}
    assert windows == {"latency": 2, "errors": 1}


def test_no_window_this_pass_keeps_the_earlier_readiness() -> None:
    ready = at_step_0(metrics=gates_status(windows=2))
    assert completes_step(run(ready, None))
    unready = at_step_0(metrics=gates_status(windows=2, inconclusive_streak=1))
    assert not completes_step(run(unready, None))


def test_the_step_hold_still_applies() -> None:
    decision = run(rolling(0, 5, step_started_at=ago(20), metrics=gates_status(windows=1)), GOOD)
    assert not completes_step(decision)
    assert R.METRIC_GATES_PASSED in reasons(decision)


def test_windows_reset_when_the_step_index_changes() -> None:
    earlier = gates_status(windows=2, step_index=0)
    earlier.gates[1] = earlier.gates[1].model_copy(update={"evidence": [0.25] * 5})
    status = rolling(1, 25, step_started_at=ago(40), metrics=earlier)
    idle = run(status, None)
    assert metrics_of(idle).step_index == 1
    assert {g.windows for g in metrics_of(idle).gates} == {0}
    judged = run(status, GOOD)
    metrics = metrics_of(judged)
    assert (metrics.step_index, {g.windows for g in metrics.gates}) == (1, {1})
    assert not completes_step(judged)
    # the count test's evidence spans the rollout, not one step
    expected = accumulate([0.25] * 5, CountWindow(1, 400, 1, 400), 1.0)
    assert metrics.gates[1].evidence == pytest.approx(expected)


@pytest.mark.parametrize("route_weight", [50, 100], ids=["being-set", "set"])
def test_the_100_percent_step_needs_no_windows(route_weight: int) -> None:
    """At 100% the baseline serves no users: nothing to compare, nothing to wait for."""
    status = rolling(3, route_weight, metrics=gates_status(windows=0, inconclusive_streak=4))
    verdict = judge_metrics(METRICS_SPEC, Draft(status, NOW, 1), None)
    assert verdict.allows_completion
    assert verdict.summary == "", "no 'metrics 0/2 windows' at 100%"


def test_both_arms_serving_users_need_the_windows() -> None:
    d = Draft(rolling(0, 5, metrics=gates_status(windows=0)), NOW, 1)
    verdict = judge_metrics(METRICS_SPEC, d, None)
    assert not verdict.allows_completion
    assert (verdict.failed, verdict.abort) == (None, None)


def test_last_step_at_100_completes_without_windows() -> None:
    decision = run(rolling(3, 100, step_started_at=ago(60)), None)
    assert completes_step(decision)
    assert R.ROLLOUT_PROMOTING in reasons(decision)


def test_without_spec_metrics_nothing_changes() -> None:
    d = Draft(rolling(0, 5), NOW, 1)
    verdict = judge_metrics(SPEC, d, GOOD)
    assert verdict.allows_completion
    assert verdict.summary == ""
    assert d.status.metrics is None


# --- A rollout on the fake cluster, a window whenever one is due ---------------------------


@dataclass
class MeteredRun(Run):
    """Run, with a metrics reading in the observations whenever window_due says so."""

    readings: list[int] = field(default_factory=list)  # weights at which windows were read

    def step(self) -> Decision:
        due = window_due(self.spec, self.status, self.now)
        reading = None if due is None else replace(GOOD, window_seconds=due)
        if reading is not None:
            self.readings.append(self.status.canary_weight)
        observed = replace(self.cluster.observe(), metrics=reading)
        decision = decide(self.spec, self.status, observed, self.now, 1)
        self.decisions.append(decision)
        self.cluster.apply(decision.actions)
        self.status = decision.status
        self.committed.append(decision.status)
        self.events.extend(decision.events)
        self.cluster.call += 1
        self.now += self.tick
        return decision


def test_a_good_canary_is_promoted_after_min_windows_at_every_step() -> None:
    s = spec(steps=(held(5, "10s"), held(25, "10s"), held(100, "10s")))
    r = MeteredRun(FakeCluster.with_target(STABLE_IMAGE), s)
    r.until(Phase.INITIALIZED)
    r.cluster.update_target(CANARY_IMAGE)
    final = r.until(Phase.SUCCEEDED)
    assert r.cluster.route_history == [5, 25, 100, 0]
    assert r.readings == [5, 5, 25, 25]  # two windows at each step where both arms serve
    assert r.reasons().count(R.METRIC_GATES_PASSED) == 2
    completed = completions(r.events)
    assert completed[:2] == [
        "step 1/3 (canary 5%) completed after 60s",
        "step 2/3 (canary 25%) completed after 60s",
    ]
    assert final.metrics is not None


def test_each_gate_queries_its_own_open_window() -> None:
    gates = gates_status(windows=1)
    gates.gates[0] = gates.gates[0].model_copy(update={"window_start": ago(20)})
    gates.gates[1] = gates.gates[1].model_copy(update={"window_start": ago(300)})  # older step
    status = at_step_0(metrics=gates)
    # latency closed a window 20s ago; errors' last close predates this step (60s ago).
    assert gate_windows(METRICS_SPEC, status, NOW) == {"latency": 20, "errors": 60}


def test_low_traffic_holds_the_step_without_counting_as_missing_data() -> None:
    low = window(canary_count=3)
    decision = run(at_step_0(metrics=gates_status(windows=1)), low, policy("Abort", limit=1))
    metrics = metrics_of(decision)
    assert metrics.inconclusive_streak == 0, "low traffic is not a fault"
    assert {g.verdict for g in metrics.gates} == {"Inconclusive"}
    assert all(g.reason.startswith("collecting:") for g in metrics.gates)
    assert not completes_step(decision)
    assert decision.status.phase != Phase.DEGRADED
