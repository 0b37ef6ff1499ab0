"""Production-traffic gates when the provider cannot be used: the inconclusive policy, and
credentials read from a Secret for a Prometheus behind basic auth and TLS."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from tests.e2e.helpers import wait_for
from tests.e2e.prometheus_env import deploy_with_metrics, metrics_spec, traffic_rollout
from tests.e2e.rollout_env import RolloutEnv
from tests.prometheus_server import free_port
from tests.providers.metrics.pki import make_server_cert

pytestmark = pytest.mark.e2e
USER, PASSWORD = "gate-reader", "s3cret"


@pytest.mark.parametrize(
    ("action", "phase"), [pytest.param("Abort", "Degraded"), pytest.param("Pause", "Paused")]
)
def test_an_unreachable_prometheus_is_never_a_pass(
    env: RolloutEnv, action: str, phase: str
) -> None:
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    metrics = metrics_spec(
        nothing_listens, interval="2s", inconclusive={"action": action, "limit": 2}
    )
    with ExitStack() as stack:
        watch = deploy_with_metrics(env, metrics, stack)
        env.set_model("v2")
        status = env.wait_phase(phase, timeout=90)

    gates = status["metrics"]["gates"]
    assert {g["verdict"] for g in gates} == {"Inconclusive"}
    assert all("unreachable" in g["reason"] for g in gates), gates
    assert all(g["windows"] == 0 for g in gates)
    assert status["metrics"]["inconclusiveStreak"] >= 2
    assert "MetricsInconclusive" in env.event_reasons()
    if action == "Abort":
        assert watch.weights == [0, 5, 0]
        progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
        assert progressing["reason"] == "MetricsInconclusive"
    else:
        assert watch.weights == [0, 5], "held at the first step, never further"
        assert [p["reason"] for p in status["pauseConditions"]] == ["InconclusiveMetrics"]


def test_credentials_and_ca_come_from_a_secret(env: RolloutEnv, tmp_path: Path) -> None:
    cert = make_server_cert(tmp_path)
    web_config = tmp_path / "web.yml"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    tls = {"cert_file": str(cert.cert), "key_file": str(cert.key)}
    web_config.write_text(
        yaml.safe_dump({"tls_server_config": tls, "basic_auth_users": {USER: hashed}})
    )
    options: dict[str, Any] = {
        "web_config": web_config,
        "ca_file": cert.ca,
        "basic_auth": (USER, PASSWORD),
    }
    with traffic_rollout(env, tmp_path, (), (), **options) as rollout:
        assert rollout.prometheus.url.startswith("https://")
        _secret(env, cert.ca, "wrong-password")
        provider = {"address": rollout.prometheus.url, "authSecretRef": {"name": "prom-auth"}}
        metrics = metrics_spec(rollout.prometheus.url, provider={"prometheus": provider})
        watch = rollout.deploy(metrics)
        with rollout.traffic:
            env.set_model("v2")
            refused = wait_for(lambda: _reasons_with(env, "401"), 60, 0.3, "HTTP 401 in status")
            _secret(env, cert.ca, PASSWORD)
            status = env.wait_phase("Succeeded", timeout=180)

    assert refused, "a wrong password is Inconclusive and says why"
    assert watch.weights == [0, 5, 25, 50, 100, 0]
    assert status["metrics"]["evaluations"] >= 6


def _secret(env: RolloutEnv, ca: Path, password: str) -> None:
    manifest = env.kubectl(
        "create", "secret", "generic", "prom-auth",
        f"--from-literal=username={USER}", f"--from-literal=password={password}",
        f"--from-file=ca.crt={ca}", "--dry-run=client", "-o", "yaml",
    )  # fmt: skip
    env.kubectl("apply", "-f", "-", input=manifest)


def _reasons_with(env: RolloutEnv, text: str) -> list[str]:
    gates = (env.status().get("metrics") or {}).get("gates") or []
    return [g["reason"] for g in gates if text in g.get("reason", "")]
