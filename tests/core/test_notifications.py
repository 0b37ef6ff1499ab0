"""Which notifications a decision makes: one per trigger, with the gates that explain it."""

from __future__ import annotations

from imagerollout.api.metric_gates import MetricGateStatus, MetricsStatus
from imagerollout.api.notifications import Subscription, Trigger
from imagerollout.api.v1alpha1 import AnalysisStatus, GateStatus, Phase
from imagerollout.core import reasons as R
from imagerollout.core.notifications import deliveries, notifications
from imagerollout.core.rollout.actions import Decision, Event
from imagerollout.core.rollout.decide import decide
from tests.core.builders import (
    CANARY_IMAGE,
    NOW,
    STABLE_IMAGE,
    deployment,
    make_obs,
    make_spec,
    primary,
    rolling,
    stamp,
)

TEXT_FAIL = GateStatus(
    gate="text/logos",
    verdict="Fail",
    samples=64,
    baseline="0.95",
    canary="0.25",
    effect="-0.7",
    lower="-0.82",
    upper="-0.55",
)
TEXT_PASS = TEXT_FAIL.model_copy(update={"gate": "text/signs", "verdict": "Pass"})


def note_for(decision: Decision, before_index: int = 1) -> list[tuple[Trigger, str]]:
    notes = notifications("ns", "imagegen", make_spec(), rolling(before_index, 25), decision, "t")
    return [(n.trigger, n.reason) for n in notes]


def test_a_rollback_names_the_failing_gate_with_its_numbers() -> None:
    status = rolling(1, 0, phase=Phase.DEGRADED, abort=True).model_copy(
        update={
            "analysis": AnalysisStatus(samples=64, gates=[TEXT_FAIL, TEXT_PASS]),
            "metrics": MetricsStatus(
                gates=[
                    MetricGateStatus(
                        gate="errors", verdict="Fail", canary="0.2", bound="0.05", reason="high"
                    )
                ]
            ),
        }
    )
    decision = Decision(status, events=(Event(R.ANALYSIS_FAILED, "text/logos failed", True),))

    [note] = notifications("ns", "imagegen", make_spec(), rolling(1, 25), decision, "t")

    assert note.trigger == Trigger.ROLLED_BACK
    assert (note.step, note.steps, note.phase) == (2, 4, "Degraded")
    assert (note.stable_model, note.canary_model) == (STABLE_IMAGE, CANARY_IMAGE)
    quality, metric = note.gates
    assert quality.gate == "text/logos"
    assert dict(quality.numbers) == {
        "pairs": "64",
        "baseline": "0.95",
        "canary": "0.25",
        "effect": "-0.7",
        "bounds": "[-0.82, -0.55]",
    }
    assert (metric.gate, metric.kind) == ("errors", "metrics")
    assert dict(metric.numbers) == {"canary": "0.2", "bound": "0.05", "why": "high"}


def test_one_notification_per_trigger_and_none_for_other_events() -> None:
    events = (
        Event(R.TRAFFIC_WEIGHT_UPDATED, "canary 25%"),
        Event(R.STEP_COMPLETED, "step 1/4"),
        Event(R.STEP_COMPLETED, "step 2/4"),
        Event(R.ROLLOUT_PAUSED, "paused"),
        Event(R.GATE_PASSED, "text passed"),
    )
    decision = Decision(rolling(2, 50), events=events)

    assert note_for(decision) == [
        (Trigger.STEP_COMPLETED, R.STEP_COMPLETED),
        (Trigger.PAUSED, R.ROLLOUT_PAUSED),
    ]


def test_a_real_promotion_notifies_promoted_with_its_canary() -> None:
    """A real promotion by decide() notifies Promoted, with the canary it promoted."""
    spec = make_spec()
    before = rolling(3, 100, step_started_at=stamp())
    obs = make_obs(deployment(CANARY_IMAGE), primary(CANARY_IMAGE), route=0)

    decision = decide(spec, before.model_copy(update={"current_step_index": 4}), obs, NOW)
    notes = notifications("ns", "imagegen", spec, before, decision, "t")

    assert [n.trigger for n in notes] == [Trigger.PROMOTED]
    assert notes[0].canary_model == CANARY_IMAGE
    assert notes[0].step == 4
    assert notes[0].gates == ()


def test_deliveries_follow_each_subscriptions_triggers() -> None:
    decision = Decision(
        rolling(1, 0, phase=Phase.DEGRADED),
        events=(Event(R.ROLLOUT_STARTED, "go"), Event(R.ROLLOUT_ABORTED, "stop", True)),
    )
    notes = notifications("ns", "imagegen", make_spec(), rolling(0, 0), decision, "t")
    subs = [
        Subscription(provider="oncall", triggers=[Trigger.ROLLED_BACK]),
        Subscription(provider="audit"),
    ]

    sent = [(provider, n.trigger) for provider, n in deliveries(subs, notes)]

    assert sent == [
        ("audit", Trigger.STARTED),
        ("oncall", Trigger.ROLLED_BACK),
        ("audit", Trigger.ROLLED_BACK),
    ]
