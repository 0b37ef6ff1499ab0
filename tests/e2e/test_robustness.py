"""Refused actions reach status and events once; a SIGTERM loses no event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client, config, watch
from urllib3.exceptions import ProtocolError

from tests.e2e.helpers import wait_for
from tests.e2e.rollout_env import DEMO, NAME, RolloutEnv, rollout_manifest, timed_steps

pytestmark = pytest.mark.e2e


def condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c["type"] == type_), None)


def requests(env: RolloutEnv, verb: str, resource: str) -> float:
    prefix = f'imagerollout_api_requests_total{{resource="{resource}",verb="{verb}"}} '
    line = next((ln for ln in env.operator.scrape().splitlines() if ln.startswith(prefix)), "")
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


def test_a_service_refused_by_a_quota_shows_in_status_and_once_in_events(
    env: RolloutEnv,
) -> None:
    env.kubectl("create", "quota", "no-services", "--hard=services=0")
    env.kubectl("apply", "-f", str(DEMO / "imagegen.yaml"))
    env.kubectl("apply", "-f", "-", input=rollout_manifest(timed_steps(5, 100)))

    failed = wait_for(
        lambda: condition(env.status(), "ActionFailed"), 60, 0.3, "ActionFailed condition"
    )
    assert failed["status"] == "True"
    assert failed["reason"] == "ActionRejected"
    assert "exceeded quota: no-services" in failed["message"], failed
    # Retried with backoff (0.5 s, 1 s, 2 s ...): three refused creates, still one event.
    wait_for(lambda: requests(env, "post", "services") >= 3, 30, 0.3, "three retries")
    rejected = [e for e in env.events() if e["reason"] == "ActionRejected"]
    assert len(rejected) == 1, rejected
    assert rejected[0]["type"] == "Warning"
    assert "exceeded quota: no-services" in rejected[0]["message"]
    assert rejected[0]["message"] == failed["message"]

    env.kubectl("delete", "quota", "no-services")
    env.wait_phase("Initialized", timeout=90)
    resolved = condition(env.status(), "ActionFailed")
    assert resolved is not None
    assert (resolved["status"], resolved["reason"]) == ("False", "ActionsApplied")
    assert len([e for e in env.events() if e["reason"] == "ActionRejected"]) == 1


class StatusWatch:
    """Calls `act` (once) from a watch on the rollout, the moment `when(status)` holds."""

    def __init__(
        self, env: RolloutEnv, when: Callable[[dict[str, Any]], bool], act: Callable[[], None]
    ) -> None:
        api = config.new_client_from_config(str(env.cluster.kubeconfig))  # type: ignore[no-untyped-call]
        self._custom = client.CustomObjectsApi(api)
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._env, self._when, self._act = env, when, act
        self.fired = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        stream = self._watch.stream(  # type: ignore[no-untyped-call]
            self._custom.list_namespaced_custom_object,
            "imagerollout.dev",
            "v1alpha1",
            self._env.namespace,
            "imagemodelrollouts",
            field_selector=f"metadata.name={NAME}",
            timeout_seconds=300,
        )
        try:
            for event in stream:
                status = event["object"].get("status") or {}
                if not self.fired.is_set() and self._when(status):
                    self._act()
                    self.fired.set()
        except ProtocolError:
            pass

    def stop(self) -> None:
        self._watch.stop()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("moment", "when"),
    [
        ("a step change", lambda s: s.get("canaryWeight") == 25),
        ("the promotion", lambda s: s.get("phase") == "Succeeded"),
    ],
)
def test_sigterm_right_after_a_status_write_loses_no_event(
    env: RolloutEnv, moment: str, when: Callable[[dict[str, Any]], bool]
) -> None:
    env.deploy(timed_steps(5, 25, 50, 100, hold="1s"))
    assert env.operator.proc is not None
    terminate = env.operator.proc.terminate
    watcher = StatusWatch(env, when, terminate)  # SIGTERM as soon as the write is visible
    try:
        env.set_model("v2")
        assert watcher.fired.wait(90), f"never saw {moment}"
        env.operator.proc.wait(30)
    finally:
        watcher.stop()
    env.operator.start()
    env.wait_phase("Succeeded", timeout=90)

    def updates() -> list[str]:
        events = env.events()
        return [e["message"].split("%")[0] for e in events if e["reason"] == "TrafficWeightUpdated"]

    expected = ["canary 5", "canary 25", "canary 50", "canary 100", "canary 0"]
    assert wait_for(lambda: updates() == expected, 10, 0.3, "one event per weight"), updates()
    assert env.event_reasons().count("RolloutPromoted") == 1
    assert env.event_reasons().count("StepCompleted") == 1  # the last step; the others join
