"""Argo CD's view of a real rollout: health.lua on live objects, actions patched for real.

Each action is computed the way Argo CD computes it (action.lua, then the merge patch between the
live and returned objects, status part only) and sent to the status subresource of the real API
server; the operator must react to it, and health.lua must read each resulting state right.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import REPO_ROOT, Cluster, wait_for
from tests.e2e.operator_process import OperatorProcess
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.packaging.argocd_lua import action_patches, discover, health
from tests.packaging.cleanup import delete_rollout

pytestmark = pytest.mark.e2e
APPLICATION = REPO_ROOT / "argocd" / "application-example.yaml"


def ignore_differences(kind: str) -> dict[str, Any]:
    """The Application example's ignoreDifferences entry for `kind`."""
    entries = yaml.safe_load(APPLICATION.read_text())["spec"]["ignoreDifferences"]
    (entry,) = [e for e in entries if e["kind"] == kind]
    result: dict[str, Any] = entry
    return result


def normalized(obj: dict[str, Any]) -> Any:
    """The object's spec as Argo CD compares it: ignored fields removed (jq `del`, as Argo CD)."""
    entry = ignore_differences(obj["kind"])
    program = ", ".join(
        [f"del({e})" for e in entry.get("jqPathExpressions", [])]
        + [f"del(.{'.'.join(p.strip('/').split('/'))})" for p in entry.get("jsonPointers", [])]
    )
    out = subprocess.run(
        ["jq", "-c", f"{program} | .spec"],
        input=json.dumps(obj),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


STEPS: list[dict[str, Any]] = [
    {"weight": 10, "pause": {"duration": "1h"}},
    {"weight": 50, "pause": {}},
    {"weight": 100},
]


@pytest.fixture
def env(cluster: Cluster, crd: None, namespace: str, tmp_path: Path) -> Iterator[RolloutEnv]:
    operator = OperatorProcess(cluster.kubeconfig, namespace, tmp_path)
    operator.start()
    rollout = RolloutEnv(cluster, namespace, operator)
    try:
        yield rollout
    finally:
        if operator.proc is None or operator.proc.poll() is not None:
            operator.start()
        try:
            delete_rollout(cluster, namespace, NAME)
        finally:
            operator.stop()


def wait_health(env: RolloutEnv, status: str, ending: str = "") -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        verdict = health(env.get("imr"))
        return (
            verdict if verdict["status"] == status and verdict["message"].endswith(ending) else None
        )

    result: dict[str, Any] = wait_for(check, 60, 0.2, f"health {status} ...{ending}")
    return result


def enabled(env: RolloutEnv) -> set[str]:
    return {name for name, spec in discover(env.get("imr")).items() if not spec["disabled"]}


def act(env: RolloutEnv, action: str) -> Any:
    """Run the action as Argo CD does and send its status patch to the API server."""
    assert action in enabled(env), f"{action} is not offered now: {enabled(env)}"
    status_patch, other = action_patches(action, env.get("imr"))
    assert other == {}, other
    env.kubectl(
        "patch", "imr", NAME, "--subresource=status", "--type=merge", "-p", json.dumps(status_patch)
    )
    return status_patch


def test_health_and_every_action_on_a_live_rollout(env: RolloutEnv) -> None:
    env.deploy(STEPS, deadline="5m")
    wait_health(env, "Healthy", "(canary 0%)")
    assert enabled(env) == set()
    route_before, target_before = env.get("httproute"), env.get("deployment")

    env.set_model("v2")
    wait_health(env, "Progressing", "(canary 10%, step 1/3)")
    assert enabled(env) == {"abort", "promote", "promote-full", "pause"}

    act(env, "pause")
    paused = wait_health(env, "Suspended", "(canary 10%, step 1/3)")
    assert "ManualPause" in paused["message"]
    assert enabled(env) == {"abort", "promote", "promote-full", "resume"}

    act(env, "resume")  # the step holds for an hour: still at 10%
    wait_health(env, "Progressing", "(canary 10%, step 1/3)")

    act(env, "promote")  # completes step 1; step 2 has no duration and waits
    step_paused = wait_health(env, "Suspended", "(canary 50%, step 2/3)")
    assert "CanaryPauseStep" in step_paused["message"]
    assert env.route_weights()["imagegen-canary"] == 50

    # What the operator changed is exactly what the Application's ignoreDifferences ignores.
    route_now, target_now = env.get("httproute"), env.get("deployment")
    assert route_now["spec"] != route_before["spec"]
    assert normalized(route_now) == normalized(route_before)
    in_git = json.loads(json.dumps(target_before))  # + the user's commit: the new model image
    in_git["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/imagegen:v2"
    assert target_now["spec"]["replicas"] != in_git["spec"]["replicas"]
    assert normalized(target_now) == normalized(in_git)

    act(env, "abort")
    degraded = wait_health(env, "Degraded")
    assert "primary 100%" in degraded["message"]
    assert env.route_weights()["imagegen-canary"] == 0
    assert enabled(env) == {"retry"}

    act(env, "retry")
    wait_health(env, "Progressing", "(canary 10%, step 1/3)")

    act(env, "promote-full")
    wait_health(env, "Healthy", "(canary 0%)")
    status = env.status()
    assert status["phase"] == "Succeeded"
    assert status["stable"]["model"] == "registry.example/imagegen:v2"


def test_progressing_until_the_operator_observes_a_new_generation(env: RolloutEnv) -> None:
    env.deploy(STEPS, deadline="5m")
    wait_health(env, "Healthy")
    env.operator.stop()
    env.kubectl("patch", "imr", NAME, "--type=merge", "-p", '{"spec":{"progressDeadline":"6m"}}')
    verdict = health(env.get("imr"))
    assert verdict["status"] == "Progressing"
    assert verdict["message"].startswith("Waiting for the operator to observe generation 2")
    env.operator.start()
    wait_health(env, "Healthy")
    assert env.status()["observedGeneration"] == 2
