"""Gate webhooks end to end, against a receiver on loopback (allowed by the operator's
endpoint allowlist): confirm-promotion holds a rollout at its last step until the receiver says
yes (across an operator restart, which does not ask the passed confirm-rollout hook again), and
a 2xx from a rollback hook rolls a canary back mid-rollout."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.e2e.helpers import wait_for
from tests.e2e.receiver import receiver
from tests.e2e.rollout_env import DEMO, NAME, RolloutEnv, rollout_manifest, timed_steps

pytestmark = pytest.mark.e2e


def deploy(env: RolloutEnv, steps: list[dict[str, Any]], webhooks: list[dict[str, Any]]) -> None:
    manifest = yaml.safe_load(rollout_manifest(steps))
    manifest["spec"]["webhooks"] = webhooks
    env.kubectl("apply", "-f", str(DEMO / "imagegen.yaml"))
    env.kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    env.wait_phase("Initialized")


def progressing(env: RolloutEnv) -> dict[str, Any]:
    condition: dict[str, Any] = {c["type"]: c for c in env.status()["conditions"]}["Progressing"]
    return condition


def test_confirm_promotion_holds_the_rollout_until_the_receiver_says_yes(env: RolloutEnv) -> None:
    with receiver() as got:
        got.answer("/ship", 403)
        deploy(
            env,
            timed_steps(50, 100, hold="1s"),
            [
                {"name": "go", "type": "confirm-rollout", "url": got.url("/go")},
                {"name": "ship", "type": "confirm-promotion", "url": got.url("/ship")},
            ],
        )
        env.set_model("v2")

        # Asked twice and refused twice: the rollout is still at its last step.
        wait_for(lambda: len(got.received("/ship")) >= 2, 60, 0.2, "two confirm-promotion calls")
        status = env.status()
        assert status["phase"] == "Progressing"
        assert (status["currentStepIndex"], status["canaryWeight"]) == (1, 100)
        refused = f"waiting for confirm-promotion webhook ship (HTTP 403 from {got.url('')})"
        assert status["message"].endswith(refused)
        assert progressing(env)["reason"] == "WaitingForWebhook"
        assert env.get("deployment", f"{NAME}-primary")["spec"]["template"]["spec"]["containers"][
            0
        ]["image"].endswith(":v1"), "not promoted while the receiver says no"

        # A restarted operator resumes from status: it asks ship again, not go.
        env.operator.kill()
        asked_before = len(got.received("/ship"))
        env.operator.start()
        wait_for(lambda: len(got.received("/ship")) > asked_before, 60, 0.2, "ship asked again")
        assert env.status()["webhooks"]["passed"] == ["go"]

        got.answer("/ship", 200)
        status = env.wait_phase("Succeeded", timeout=60)

    assert status["stable"]["model"] == "registry.example/imagegen:v2"
    asked = got.received("/ship")[-1]
    assert (asked["name"], asked["namespace"], asked["type"]) == (
        NAME,
        env.namespace,
        "confirm-promotion",
    )
    assert asked["canary"]["model"] == "registry.example/imagegen:v2"
    assert (asked["step"], asked["steps"], asked["canaryWeight"]) == (2, 2, 100)
    assert len(got.received("/go")) == 1, (
        "a confirmed hook is not asked again, even after a restart"
    )
    reasons = env.event_reasons()
    assert reasons.count("WebhookPassed") == 2
    assert "WaitingForWebhook" in reasons
    assert reasons.index("WebhookPassed") < reasons.index("TrafficWeightUpdated")


def test_a_2xx_from_the_rollback_hook_rolls_the_canary_back(env: RolloutEnv) -> None:
    with receiver() as got:
        got.answer("/stop", 404)
        deploy(
            env,
            timed_steps(25, 100, hold="10m"),
            [{"name": "stop", "type": "rollback", "url": got.url("/stop")}],
        )
        env.set_model("v2")
        wait_for(lambda: env.route_weights().get(f"{NAME}-canary") == 25, 60, 0.2, "canary 25%")
        wait_for(lambda: got.received("/stop"), 30, 0.2, "a rollback hook call")
        assert env.status()["phase"] == "Progressing", "a 404 does not roll back"

        got.answer("/stop", 200)
        status = env.wait_phase("Degraded", timeout=60)

    assert status["abort"] is True
    condition = progressing(env)
    assert (condition["reason"], condition["message"]) == (
        "RollbackWebhook",
        "rollback webhook stop answered 200",
    )
    wait_for(lambda: env.route_weights().get(f"{NAME}-canary") == 0, 30, 0.2, "canary 0%")
    assert "RollbackWebhook" in env.event_reasons()
