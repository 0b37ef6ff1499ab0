"""The quality gates inside decide(): stage 0, per-step minimum pairs, Fail, Inconclusive."""

from __future__ import annotations

from typing import Any

import pytest

from imagerollout.api.v1alpha1 import (
    Analysis,
    AnalysisStatus,
    FullTrafficPolicy,
    Gate,
    InconclusivePolicy,
    Metric,
    Phase,
    RolloutSpec,
    Stage0,
)
from imagerollout.core import reasons as R
from imagerollout.core.observations import AnalysisObservation
from imagerollout.core.quality.analysis import AnalysisState, StratumInfo, record
from imagerollout.core.quality.gates import ArmScores, PairScores, gates_of
from imagerollout.core.rollout.actions import ScaleCanary, SetWeight
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.revision import template_revision
from tests.core.builders import (
    CANARY_IMAGE,
    NOW,
    ago,
    completes_step,
    deployment,
    make_obs,
    make_spec,
    primary,
    reasons,
    rolling,
)

STRATA = (StratumInfo("typography", True, 5), StratumInfo("plain", False, 5))
TEXT_GATE = Gate(name="text", metric=Metric.OCR_ACCURACY, max_degradation="10")


def spec(**analysis: Any) -> RolloutSpec:
    settings = {
        "gates": [TEXT_GATE],
        "min_samples": 5,
        "max_samples": 400,
        "stage0": Stage0(samples=10, batch_size=4),
        **analysis,
    }
    return make_spec().model_copy(update={"analysis": Analysis(**settings)})


def pairs(count: int, baseline_ok: bool = True, canary_ok: bool = True) -> list[PairScores]:
    return [PairScores("typography", True, _arm(baseline_ok), _arm(canary_ok))] * count


def _arm(text_passed: bool) -> ArmScores:
    return ArmScores(ok=True, text_passed=text_passed, latency_s=0.1)


def state_of(*batches: list[PairScores]) -> AnalysisState:
    state = AnalysisState()
    for batch in batches:
        for pair in batch:
            state = record(state, gates_of(spec().analysis or Analysis()), pair)
    return state


def seen(state: AnalysisState) -> AnalysisObservation:
    return AnalysisObservation(state=state, strata=STRATA, evidence="/evidence/x")


CANARY_READY = deployment(CANARY_IMAGE)
STABLE_PRIMARY = primary()


def analysis_status(samples: int, **fields: Any) -> AnalysisStatus:
    return AnalysisStatus(samples=samples, **fields)


def test_stage0_holds_the_canary_at_zero_traffic_until_it_has_its_pairs() -> None:
    decision = decide(
        spec(),
        rolling(0, 0),
        make_obs(CANARY_READY, STABLE_PRIMARY, route=0, analysis=seen(state_of(pairs(3)))),
        NOW,
    )
    assert decision.actions == ()
    assert decision.status.message == "stage 0: 3/10 pairs at 0% traffic"
    assert decision.status.analysis is not None
    assert decision.status.analysis.samples == 3


def test_stage0_done_without_a_fail_sets_the_first_weight() -> None:
    state = state_of(pairs(10))
    decision = decide(
        spec(),
        rolling(0, 0, analysis=analysis_status(10)),
        make_obs(CANARY_READY, STABLE_PRIMARY, route=0, analysis=seen(state)),
        NOW,
    )
    assert decision.actions == (SetWeight(5),)
    assert decision.status.analysis is not None
    assert decision.status.analysis.step_start_samples == 10


def test_a_failing_gate_rolls_back_at_once_and_names_the_stratum() -> None:
    state = state_of(pairs(30, baseline_ok=True, canary_ok=False))
    decision = decide(
        spec(),
        rolling(1, 25, analysis=analysis_status(20)),
        make_obs(CANARY_READY, STABLE_PRIMARY, route=25, analysis=seen(state)),
        NOW,
    )
    assert decision.status.phase == Phase.DEGRADED
    assert SetWeight(0) in decision.actions
    assert ScaleCanary(0) in decision.actions
    assert reasons(decision)[:2] == [R.GATE_FAILED, R.TRAFFIC_WEIGHT_UPDATED]
    assert R.ANALYSIS_FAILED in reasons(decision)
    failed = [e.message for e in decision.events if e.reason == R.GATE_FAILED]
    assert failed[0].startswith("text/typography")
    assert decision.status.analysis is not None
    assert decision.status.analysis.gates[0].verdict == "Fail"


def test_a_step_waits_for_its_minimum_of_new_pairs() -> None:
    state = state_of(pairs(12))
    status = rolling(
        0, 5, step_started_at=ago(60), analysis=analysis_status(12, step_start_samples=10)
    )
    decision = decide(
        spec(), status, make_obs(CANARY_READY, STABLE_PRIMARY, route=5, analysis=seen(state)), NOW
    )
    assert decision.status.current_step_index == 0
    more = state_of(pairs(15))
    decision = decide(
        spec(), status, make_obs(CANARY_READY, STABLE_PRIMARY, route=5, analysis=seen(more)), NOW
    )
    assert decision.status.current_step_index == 1
    assert completes_step(decision)


def test_the_last_step_needs_every_gate_passed() -> None:
    undecided = state_of(pairs(12))
    status = rolling(
        3, 100, step_started_at=ago(60), analysis=analysis_status(6, step_start_samples=6)
    )
    held = decide(
        spec(),
        status,
        make_obs(CANARY_READY, STABLE_PRIMARY, route=100, analysis=seen(undecided)),
        NOW,
    )
    assert held.status.current_step_index == 3
    passed = state_of(pairs(400))
    promoted = decide(
        spec(),
        status,
        make_obs(CANARY_READY, STABLE_PRIMARY, route=100, analysis=seen(passed)),
        NOW,
    )
    assert promoted.status.current_step_index == 4
    assert promoted.status.analysis is not None
    assert {g.verdict for g in promoted.status.analysis.gates} == {"Pass"}


@pytest.mark.parametrize(
    ("policy", "phase", "reason"),
    [
        (InconclusivePolicy.PAUSE, Phase.PAUSED, R.ANALYSIS_INCONCLUSIVE),
        (InconclusivePolicy.ABORT, Phase.DEGRADED, R.ANALYSIS_INCONCLUSIVE),
        (InconclusivePolicy.EXTEND, Phase.PROGRESSING, R.ANALYSIS_EXTENDED),
    ],
)
def test_inconclusive_at_max_samples_follows_the_policy(
    policy: InconclusivePolicy, phase: Phase, reason: str
) -> None:
    # 1 in 8 pairs discordant each way: neither a Pass within 10 points nor a Fail, at 40 pairs.
    state = state_of(pairs(30), pairs(5, True, False), pairs(5, False, True))
    status = rolling(
        1, 25, step_started_at=ago(60), analysis=analysis_status(30, step_start_samples=30)
    )
    decision = decide(
        spec(max_samples=40, inconclusive=policy),
        status,
        make_obs(CANARY_READY, STABLE_PRIMARY, route=25, analysis=seen(state)),
        NOW,
    )
    assert decision.status.phase == phase
    assert reason in reasons(decision)


def test_a_verdict_event_is_posted_once() -> None:
    state = state_of(pairs(30, baseline_ok=True, canary_ok=False))
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=5, analysis=seen(state))
    first = decide(spec(), rolling(0, 5, analysis=analysis_status(10)), obs, NOW)
    again = decide(spec(), first.status, obs, NOW)
    assert R.GATE_FAILED in reasons(first)
    assert R.GATE_FAILED not in reasons(again)


def test_an_unusable_suite_or_endpoint_holds_the_rollout_and_says_why() -> None:
    broken = AnalysisObservation(
        state=AnalysisState(), strata=(), error="suite ConfigMap x not found"
    )
    decision = decide(
        spec(), rolling(0, 0), make_obs(CANARY_READY, STABLE_PRIMARY, analysis=broken), NOW
    )
    assert decision.actions == ()
    assert decision.status.message == "analysis: suite ConfigMap x not found"


def test_the_revision_helper_is_stable() -> None:
    assert template_revision({"a": 1}) == template_revision({"a": 1})


def test_the_step_before_100_percent_waits_for_every_gate_and_says_why() -> None:
    undecided = state_of(pairs(12))
    status = rolling(
        2, 50, step_started_at=ago(60), analysis=analysis_status(12, step_start_samples=6)
    )
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=50, analysis=seen(undecided))
    held = decide(spec(), status, obs, NOW)
    assert held.status.current_step_index == 2
    assert "100% waits for every quality gate to pass" in held.status.message
    scheduled = decide(spec(full_traffic=FullTrafficPolicy.SCHEDULED), status, obs, NOW)
    assert scheduled.status.current_step_index == 3


def test_inconclusive_before_full_traffic_pauses_at_the_last_partial_weight() -> None:
    state = state_of(pairs(30), pairs(5, True, False), pairs(5, False, True))
    status = rolling(
        2, 50, step_started_at=ago(60), analysis=analysis_status(30, step_start_samples=30)
    )
    decision = decide(
        spec(max_samples=40),
        status,
        make_obs(CANARY_READY, STABLE_PRIMARY, route=50, analysis=seen(state)),
        NOW,
    )
    assert decision.status.phase == Phase.PAUSED
    assert decision.status.canary_weight == 50
    assert decision.actions == ()
