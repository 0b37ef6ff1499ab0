"""End to end: the operator process, real kubectl and the real kube-apiserver."""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import wait_for
from tests.e2e.rollout_env import NAME, RolloutEnv, timed_steps
from tests.e2e.route_watch import RouteWatch

pytestmark = pytest.mark.e2e


def test_promotes_through_every_weight_and_keeps_the_users_route(env: RolloutEnv) -> None:
    env.deploy(timed_steps(5, 25, 50, 100))
    route_before = env.get("httproute")["spec"]
    watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
    try:
        env.set_model("v2")
        status = env.wait_phase("Succeeded", timeout=120)
    finally:
        watch.stop()

    assert watch.weights == [0, 5, 25, 50, 100, 0]
    assert status["canaryWeight"] == 0
    assert status["stable"]["model"] == "registry.example/imagegen:v2"
    primary = env.get("deployment", f"{NAME}-primary")["spec"]["template"]["spec"]
    assert primary["containers"][0]["image"] == "registry.example/imagegen:v2"
    assert env.get("deployment")["spec"]["replicas"] == 0
    route_after = env.get("httproute")["spec"]
    assert route_after["rules"][1] == route_before["rules"][1]
    assert route_after["rules"][0]["filters"] == route_before["rules"][0]["filters"]
    assert route_after["rules"][0]["matches"] == route_before["rules"][0]["matches"]
    assert route_after["parentRefs"] == route_before["parentRefs"]
    reasons = env.event_reasons()
    for reason in ("RolloutStarted", "TrafficWeightUpdated", "StepCompleted", "RolloutPromoted"):
        assert reason in reasons
    messages = [e["message"] for e in env.events()]
    assert any(m.startswith("canary 25%, primary 75%") for m in messages)
    metrics = env.operator.scrape()
    rollout = f'name="{NAME}",namespace="{env.namespace}"'
    assert f"imagerollout_canary_weight_percent{{{rollout}}} 0.0" in metrics
    assert f'imagerollout_rollout_info{{canary_model="",{rollout},phase="Succeeded"' in metrics
    assert "imagerollout_reconcile_duration_seconds_count" in metrics
    promoted = {c["type"]: c for c in status["conditions"]}["Promoted"]
    assert promoted["status"] == "True"
    assert promoted["observedGeneration"] == env.get("imr")["metadata"]["generation"]


def test_abort_half_way_sends_all_traffic_back_to_primary(env: RolloutEnv) -> None:
    steps = [*timed_steps(5, 25), {"weight": 50, "pause": {}}, {"weight": 100}]
    env.deploy(steps)
    env.set_model("v2")
    env.wait_phase("Paused")
    assert env.route_weights()["imagegen-canary"] == 50

    watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
    try:
        wait_for(lambda: watch.weights == [50], 10, 0.05, "route watch to start")
        aborted_at = time.monotonic()
        env.patch_status({"abort": True})
        back_at = wait_for(lambda: watch.first_time_at(0, aborted_at), 30, 0.05, "weight 0")
    finally:
        watch.stop()
    print(f"abort to canary weight 0 in the API: {back_at - aborted_at:.2f}s")

    status = env.wait_phase("Degraded")
    assert env.route_weights() == {"imagegen-primary": 100, "imagegen-canary": 0, "docs": 1}
    wait_for(lambda: env.get("deployment")["spec"]["replicas"] == 0, 30, 0.2, "canary at 0")
    assert status["stable"]["model"] == "registry.example/imagegen:v1"
    aborted = [e for e in env.events() if e["reason"] == "RolloutAborted"]
    assert len(aborted) == 1
    assert aborted[0]["type"] == "Warning"
    assert "canary 0%, primary 100%" in aborted[0]["message"]

    env.patch_status({"abort": False})  # retry: the same canary starts again from step 1
    wait_for(lambda: "RolloutRetried" in env.event_reasons(), 30, 0.2, "RolloutRetried")
    wait_for(lambda: env.status().get("canaryWeight") == 5, 60, 0.2, "retry at weight 5")


def test_pause_resume_and_promote_full(env: RolloutEnv) -> None:
    env.deploy(timed_steps(5, 25, 50, 100, hold="20s"))
    env.set_model("v2")
    wait_for(lambda: env.status().get("canaryWeight") == 5, 60, 0.1, "weight 5")
    env.patch_status(
        {"pauseConditions": [{"reason": "ManualPause", "startTime": "2026-01-01T00:00:00Z"}]}
    )
    status = env.wait_phase("Paused")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Paused"] == "True"
    env.patch_status({"pauseConditions": None})
    env.wait_phase("Progressing")
    env.patch_status({"promoteFull": True})
    status = env.wait_phase("Succeeded", timeout=60)
    assert status["stable"]["model"] == "registry.example/imagegen:v2"
    reasons = env.event_reasons()
    assert reasons.index("RolloutPaused") < reasons.index("RolloutResumed")
    assert "RolloutPromoting" in reasons


def test_progress_deadline_aborts_a_canary_that_never_becomes_ready(env: RolloutEnv) -> None:
    env.deploy(timed_steps(5, 100), deadline="10s")
    patch = '{"spec":{"template":{"spec":{"nodeSelector":{"no-such-node":"true"}}}}}'
    env.kubectl("patch", "deployment", NAME, "--type=merge", "-p", patch)
    status = env.wait_phase("Degraded", timeout=60)
    progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert env.route_weights()["imagegen-canary"] == 0
    assert "ProgressDeadlineExceeded" in env.event_reasons()


def test_a_rollout_can_be_deleted_while_the_operator_is_down(env: RolloutEnv) -> None:
    env.deploy(timed_steps(5, 100))
    assert not env.get("imr")["metadata"].get("finalizers"), "no finalizer that needs us"
    assert env.get("deployment", f"{NAME}-primary")["metadata"]["ownerReferences"]
    env.operator.stop()
    env.kubectl("delete", "imr", NAME, "--wait=true", "--timeout=30s")
    wait_for(
        lambda: (
            env.cluster.kubectl(
                "-n", env.namespace, "get", "deployment", f"{NAME}-primary", check=False
            ).returncode
            != 0
        ),
        60,
        0.5,
        "the owned primary Deployment to be garbage-collected",
    )
