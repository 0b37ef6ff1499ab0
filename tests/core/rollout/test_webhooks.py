"""Gate webhooks in the decision: confirm-rollout, pre-rollout, confirm-promotion, rollback."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from imagerollout.api.notifications import Webhook, WebhooksStatus
from imagerollout.api.v1alpha1 import Phase, RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.observations import Observations, WebhookReply
from imagerollout.core.rollout.actions import CallWebhook, Decision, ScaleCanary, SetWeight
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.webhooks import attempt, sampling_waits
from tests.core.builders import (
    CANARY_IMAGE,
    NOW,
    REPLICAS,
    at,
    condition_of,
    deployment,
    make_obs,
    make_spec,
    primary,
    reasons,
    rolling,
    stamp,
)

URL = "http://gate.ci:8080/hook"


def spec_with(*hooks: tuple[str, str], deadline: str = "10m") -> RolloutSpec:
    spec = make_spec(progress_deadline=deadline)
    webhooks = [
        Webhook.model_validate({"name": name, "type": kind, "url": URL, "metadata": {"k": "v"}})
        for name, kind in hooks
    ]
    return spec.model_copy(update={"webhooks": webhooks})


def starting(**fields: Any) -> RolloutStatus:
    """Stage 0 of a rollout just started: the canary scaled to 0, no weight yet."""
    return rolling(0, 0, rollout_started_at=stamp(), **fields)


def answered(status: RolloutStatus, obs: Observations, **codes: int | None) -> Observations:
    replies = {
        hook: WebhookReply(attempt(status), code, None if code == 200 else f"HTTP {code}")
        for hook, code in codes.items()
    }
    return replace(obs, webhooks=replies)


def calls(decision: Decision) -> list[str]:
    return [a.hook for a in decision.actions if isinstance(a, CallWebhook)]


def cold() -> Observations:
    """The canary's pods are not up yet (the target is at 0 replicas)."""
    return make_obs(deployment(CANARY_IMAGE, replicas=0), primary())


def warm() -> Observations:
    return make_obs(deployment(CANARY_IMAGE), primary())


def test_confirm_rollout_holds_the_canary_at_zero_pods_and_asks() -> None:
    spec, status = spec_with(("go", "confirm-rollout")), starting()

    decision = decide(spec, status, cold(), NOW)

    assert calls(decision) == ["go"]
    assert not [a for a in decision.actions if isinstance(a, ScaleCanary | SetWeight)]
    assert decision.status.message == "waiting for confirm-rollout webhook go (asked)"
    assert condition_of(decision.status, R.PROGRESSING) == ("True", R.WAITING_FOR_WEBHOOK)
    assert reasons(decision) == [R.WAITING_FOR_WEBHOOK]
    # Asked again on the next pass, with the same words: no second event.
    again = decide(spec, decision.status, cold(), at(2))
    assert calls(again) == ["go"]
    assert reasons(again) == []


def test_a_no_is_shown_and_a_yes_is_recorded_and_the_canary_starts() -> None:
    spec, status = spec_with(("go", "confirm-rollout")), starting()

    refused = decide(spec, status, answered(status, cold(), go=403), NOW)
    assert refused.status.message == "waiting for confirm-rollout webhook go (HTTP 403)"
    confirmed = decide(spec, refused.status, answered(status, cold(), go=200), at(2))

    assert confirmed.status.webhooks == WebhooksStatus(passed=["go"])
    assert R.WEBHOOK_PASSED in reasons(confirmed)
    assert ScaleCanary(REPLICAS) in confirmed.actions
    assert calls(confirmed) == []


def test_an_answer_for_another_attempt_does_not_count() -> None:
    spec, status = spec_with(("go", "confirm-rollout")), starting()
    old = replace(cold(), webhooks={"go": WebhookReply("other@then", 200)})

    decision = decide(spec, status, old, NOW)

    assert calls(decision) == ["go"]
    assert decision.status.webhooks is None


def test_a_restarted_operator_does_not_ask_a_passed_hook_again() -> None:
    spec = spec_with(("go", "confirm-rollout"))
    status = starting(webhooks=WebhooksStatus(passed=["go"]))

    decision = decide(spec, status, cold(), NOW)

    assert calls(decision) == []
    assert ScaleCanary(REPLICAS) in decision.actions


def test_pre_rollout_is_asked_once_the_canary_pods_are_ready() -> None:
    spec, status = spec_with(("smoke", "pre-rollout")), starting()

    scaling = decide(spec, status, cold(), NOW)
    ready = decide(spec, status, warm(), NOW)

    assert calls(scaling) == []
    assert ScaleCanary(REPLICAS) in scaling.actions
    assert calls(ready) == ["smoke"]
    assert ready.status.message.startswith("waiting for pre-rollout webhook smoke")
    assert not [a for a in ready.actions if isinstance(a, SetWeight)]


def test_a_pre_rollout_that_never_says_yes_is_rolled_back_at_the_deadline() -> None:
    spec = spec_with(("smoke", "pre-rollout"), deadline="1m")
    status = starting(blocked_since=stamp(at(-61)))

    decision = decide(spec, status, answered(status, warm(), smoke=500), NOW)

    assert decision.status.phase == Phase.DEGRADED
    assert R.PROGRESS_DEADLINE_EXCEEDED in reasons(decision)
    assert "pre-rollout webhook smoke (HTTP 500) for more than 1m" in decision.status.message


def test_confirm_promotion_holds_the_last_step_until_it_says_yes() -> None:
    spec = spec_with(("ship", "confirm-promotion"))
    status = rolling(3, 100, step_started_at=stamp(at(-60)))
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=100)

    waiting = decide(spec, status, obs, NOW)
    confirmed = decide(spec, waiting.status, answered(status, obs, ship=200), at(2))

    assert calls(waiting) == ["ship"]
    assert waiting.status.current_step_index == 3
    assert waiting.status.message.endswith("waiting for confirm-promotion webhook ship (asked)")
    assert confirmed.status.current_step_index == 4
    assert confirmed.status.phase == Phase.PROMOTING


def test_confirm_promotion_is_not_asked_before_the_last_step() -> None:
    spec = spec_with(("ship", "confirm-promotion"))
    status = rolling(1, 25, step_started_at=stamp(at(-60)))

    decision = decide(spec, status, make_obs(deployment(CANARY_IMAGE), primary(), route=25), NOW)

    assert calls(decision) == []
    assert decision.status.current_step_index == 2


def test_a_2xx_from_a_rollback_hook_rolls_back() -> None:
    spec = spec_with(("stop", "rollback"))
    status = rolling(1, 25, step_started_at=stamp())
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=25)

    asked = decide(spec, status, answered(status, obs, stop=404), NOW)
    stopped = decide(spec, status, answered(status, obs, stop=200), NOW)

    assert calls(asked) == ["stop"]
    assert asked.status.phase == Phase.PROGRESSING
    assert stopped.status.phase == Phase.DEGRADED
    assert stopped.status.abort is True
    assert SetWeight(0) in stopped.actions
    assert R.ROLLBACK_WEBHOOK in reasons(stopped)
    assert condition_of(stopped.status, R.PROGRESSING) == ("False", R.ROLLBACK_WEBHOOK)


def test_a_hook_off_the_allowlist_holds_everything_as_invalid_spec() -> None:
    spec = spec_with(("stop", "rollback"))
    status = rolling(1, 25, step_started_at=stamp(at(-60)))
    reply = WebhookReply(attempt(status), None, "endpoint http://gate.ci:8080 is not in", True)
    obs = replace(make_obs(deployment(CANARY_IMAGE), primary(), route=25), webhooks={"stop": reply})

    decision = decide(spec, status, obs, NOW)

    assert condition_of(decision.status, R.INVALID_SPEC) == ("True", R.WEBHOOK_NOT_ALLOWED)
    assert decision.status.current_step_index == 1
    assert decision.actions == ()
    assert reasons(decision) == [R.WEBHOOK_NOT_ALLOWED]


def test_a_new_attempt_starts_with_no_hook_passed() -> None:
    spec = spec_with(("go", "confirm-rollout"))
    old = rolling(2, 50, webhooks=WebhooksStatus(passed=["go"]))
    other = deployment("registry.example/imagegen:v3", replicas=0)

    decision = decide(spec, old, make_obs(other, primary(), route=50), NOW)

    assert decision.status.webhooks is None
    assert calls(decision) == ["go"]
    assert sampling_waits(spec, old, other.revision)


def test_the_sampler_waits_for_the_hooks_before_stage0() -> None:
    spec = spec_with(("go", "confirm-rollout"), ("smoke", "pre-rollout"))
    revision = deployment(CANARY_IMAGE).revision
    half = starting(webhooks=WebhooksStatus(passed=["go"]))

    assert sampling_waits(spec, half, revision)
    assert not sampling_waits(
        spec, starting(webhooks=WebhooksStatus(passed=["go", "smoke"])), revision
    )
    assert not sampling_waits(spec, rolling(1, 25), revision)  # a hook added mid-rollout
    assert not sampling_waits(make_spec(), starting(), revision)


def test_the_body_describes_the_rollout_for_the_receiver() -> None:
    spec, status = spec_with(("go", "confirm-rollout")), starting()

    [call] = [a for a in decide(spec, status, cold(), NOW).actions if isinstance(a, CallWebhook)]

    assert call.attempt == attempt(status)
    assert call.body["type"] == "confirm-rollout"
    assert call.body["hook"] == "go"
    assert call.body["canary"]["model"] == CANARY_IMAGE
    assert (call.body["step"], call.body["steps"], call.body["canaryWeight"]) == (1, 4, 0)
    assert call.body["metadata"] == {"k": "v"}
    assert status.canary is not None
    assert call.body["checksum"] == status.canary.revision
