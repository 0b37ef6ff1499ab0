"""Notifications end to end: the operator reads its providers from a Secret, and a receiver on
loopback gets the notifications of a rollback, with the failing gate's numbers as in status.
A dead provider holds nothing up: the rollout is rolled back all the same, and the failure
shows as a Warning event and in the operator's metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import Cluster, wait_for
from tests.e2e.operator_process import OperatorProcess, free_port
from tests.e2e.receiver import Receiver, receiver
from tests.e2e.rollout_env import RolloutEnv
from tests.e2e.test_default_gates import SUITE, default_analysis, gate_heads

pytestmark = pytest.mark.e2e
SUBSCRIPTIONS = [
    {"provider": "audit"},
    {"provider": "oncall", "triggers": ["RolledBack", "Inconclusive"]},
    {"provider": "dead", "triggers": ["Started", "RolledBack"]},
]


@pytest.fixture
def notified(
    cluster: Cluster, crd: None, namespace: str, tmp_path: Path
) -> Iterator[tuple[RolloutEnv, Receiver]]:
    """The operator with --notifiers-secret: a webhook and a Slack provider on the receiver, and
    one whose port nobody listens on."""
    with receiver() as got:
        providers = [
            {"name": "audit", "type": "webhook", "url": got.url("/audit")},
            {"name": "oncall", "type": "slack", "url": got.url("/slack")},
            {"name": "dead", "type": "webhook", "url": f"http://127.0.0.1:{free_port()}/"},
        ]
        literal = f"--from-literal=providers.yaml={yaml.safe_dump({'providers': providers})}"
        cluster.kubectl("-n", namespace, "create", "secret", "generic", "notifiers", literal)
        operator = OperatorProcess(
            cluster.kubeconfig,
            namespace,
            tmp_path,
            {"IMAGEROLLOUT_ENDPOINT_ALLOWLIST": "http://127.0.0.1:*"},
            args=("--notifiers-secret", f"{namespace}/notifiers"),
        )
        operator.start()
        try:
            yield RolloutEnv(cluster, namespace, operator), got
        finally:
            operator.stop()


def triggers(got: Receiver, path: str) -> list[str]:
    return [body["trigger"] for body in got.received(path)]


def test_a_rollback_is_notified_with_the_failing_gate_and_its_numbers(
    notified: tuple[RolloutEnv, Receiver], tmp_path: Path
) -> None:
    env, got = notified
    with (
        demo_server(tmp_path, "baseline") as baseline,
        demo_server(tmp_path, "canary", "--error-rate", "0.25") as canary,
    ):
        env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
        analysis = default_analysis(baseline, canary, tmp_path / "evidence")
        env.deploy_judged(analysis=analysis, notifications=SUBSCRIPTIONS)
        env.set_model("v2")
        status = env.wait_phase("Degraded", timeout=300)

    wait_for(lambda: "RolledBack" in triggers(got, "/audit"), 30, 0.2, "RolledBack at /audit")
    assert triggers(got, "/audit") == ["Started", "RolledBack"]
    rolled_back = got.received("/audit")[-1]
    assert rolled_back["reason"] == "AnalysisFailed"
    assert rolled_back["canaryModel"] == "registry.example/imagegen:v2"
    errors = gate_heads(status)["errors"]
    sent = {gate["gate"]: gate for gate in rolled_back["gates"]}
    assert sent["errors"]["verdict"] == "Fail"
    assert sent["errors"]["numbers"] == {
        "pairs": str(errors["samples"]),
        "baseline": errors["baseline"],
        "canary": errors["canary"],
        "effect": errors["effect"],
        "bounds": f"[{errors['lower']}, {errors['upper']}]",
    }

    [slack] = wait_for(lambda: got.received("/slack"), 30, 0.2, "the Slack message")
    print(f"\nSlack got: {slack['text']}\n{slack['blocks']}")
    assert slack["blocks"][0]["text"]["text"].endswith(f"{env.namespace}/imagegen: rolled back")
    assert f"errors (quality) Fail: pairs {errors['samples']}" in str(slack["blocks"])

    failed = wait_for(lambda: _notification_failures(env), 60, 0.5, "NotificationFailed")
    assert len(failed) == 1, failed  # one event per outage, not one per notification
    assert failed[0].startswith("Started notification to dead failed after 4 attempts")
    wait_for(lambda: _metric(env, "dead", "RolledBack", "failed") == 1.0, 60, 0.5, "dead counted")
    assert _metric(env, "audit", "RolledBack", "sent") == 1.0


def _notification_failures(env: RolloutEnv) -> list[str]:
    return [e["message"] for e in env.events() if e["reason"] == "NotificationFailed"]


def _metric(env: RolloutEnv, provider: str, trigger: str, result: str) -> float | None:
    wanted = f'provider="{provider}",result="{result}",trigger="{trigger}"'
    for line in env.operator.scrape().splitlines():
        if line.startswith("imagerollout_notifications_total{") and wanted in line:
            return float(line.rsplit(" ", 1)[1])
    return None
