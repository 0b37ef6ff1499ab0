"""Production-traffic gates end to end: the real operator and API server, a real Prometheus
scraping demo model servers, and synthetic users following the HTTPRoute's weights."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import wait_for
from tests.e2e.prometheus_env import CANARY, metrics_spec, traffic_rollout
from tests.e2e.rollout_env import RolloutEnv
from tests.prometheus_server import PrometheusServer

pytestmark = pytest.mark.e2e
DECODER_FAILURE = "decoder_failure:text_artifact_misalignment"


def test_a_latency_regression_is_rolled_back_at_5_percent(env: RolloutEnv, tmp_path: Path) -> None:
    with traffic_rollout(env, tmp_path, (), ("--latency-ms", "400")) as rollout:
        # The same Prometheus scrapes the operator, as the dashboard's does.
        operator = f"127.0.0.1:{env.operator.metrics_port}"
        rollout.prometheus.add_targets("operator", [operator], {"job_role": "operator"})
        watch = rollout.deploy(metrics_spec(rollout.prometheus.url))
        rollout.prometheus.wait_for_targets_up([operator], timeout=30)
        with rollout.traffic:
            env.set_model("v2")
            status = env.wait_phase("Degraded", timeout=120)
            counts = rollout.traffic.counts()
        history = wait_for(
            lambda: _operator_history(rollout.prometheus, env.namespace), 30, 0.5, "history"
        )

    assert watch.weights == [0, 5, 0], "rolled back at the first step that had users"
    gates = {g["gate"]: g for g in status["metrics"]["gates"]}
    latency = gates["latency-p95"]
    assert latency["verdict"] == "Fail"
    assert float(latency["canary"]) > float(latency["bound"]) > float(latency["baseline"])
    assert gates["error-rate"]["verdict"] != "Fail"
    # The same regression through the sequential rate test: requests slower than 0.25 s.
    assert gates["slow-requests"]["verdict"] == "Fail"
    assert float(gates["slow-requests"]["canary"]) > float(gates["slow-requests"]["baseline"])
    progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert progressing["reason"] == "MetricsAnalysisFailed"
    assert progressing["message"].startswith("slow-requests: canary rate ")
    assert " vs baseline 0: " in progressing["message"]
    assert counts[CANARY]["ok"] > 0, "users reached the canary"
    failed_at = watch.first_time_at(5, 0)
    rolled_back = watch.first_time_at(0, failed_at or 0)
    assert failed_at is not None
    assert rolled_back is not None
    print(f"\n[figure] latency regression: canary at 5% for {rolled_back - failed_at:.1f}s")
    metrics = env.operator.scrape()
    assert 'imagerollout_metric_gate_windows_total{gate="latency-p95"' in metrics
    weight_seen, canary_p95 = history
    assert weight_seen == 5, "Prometheus recorded the canary weight over time"
    assert canary_p95 > 0.2


def _operator_history(prometheus: PrometheusServer, namespace: str) -> tuple[float, float] | None:
    """What the dashboard plots, read back from Prometheus: the highest canary weight in the
    last 10 minutes and the latest canary p95 of the failed gate."""
    rollout = f'namespace="{namespace}",name="imagegen"'
    weight = prometheus.query(
        f"max_over_time(imagerollout_canary_weight_percent{{{rollout}}}[10m])"
    )
    p95 = prometheus.query(
        f'imagerollout_metric_gate_value{{{rollout},gate="latency-p95",arm="canary"}}'
    )
    degraded = prometheus.query(f'imagerollout_rollout_info{{{rollout},phase="Degraded"}}')
    if not (weight and p95 and degraded):
        return None
    return float(weight[0]["value"][1]), float(p95[0]["value"][1])


def test_an_error_regression_is_rolled_back(env: RolloutEnv, tmp_path: Path) -> None:
    errors = ("--error-rate", "0.3", "--error-reason", DECODER_FAILURE)
    with traffic_rollout(env, tmp_path, (), errors) as rollout:
        watch = rollout.deploy(metrics_spec(rollout.prometheus.url))
        with rollout.traffic:
            env.set_model("v2")
            status = env.wait_phase("Degraded", timeout=120)

    assert watch.weights[-1] == 0
    assert max(watch.weights) <= 25, "caught within the first two steps"
    first_users = watch.first_time_at(5, 0)
    zero = watch.first_time_at(0, first_users or 0)
    assert first_users is not None
    assert zero is not None
    print(f"\n[figure] error regression: {zero - first_users:.1f}s from 5% to 0%, {watch.weights}")
    gates = {g["gate"]: g for g in status["metrics"]["gates"]}
    failed = {name for name, g in gates.items() if g["verdict"] == "Fail"}
    assert failed & {"error-rate", "decoder-failures"}
    for name in failed:
        assert float(gates[name]["canary"]) > float(gates[name]["baseline"])
    reasons = env.event_reasons()
    assert "MetricGateFailed" in reasons
    assert "MetricsAnalysisFailed" in reasons
    assert "RolloutPromoted" not in reasons


def test_a_good_canary_passes_and_is_promoted(env: RolloutEnv, tmp_path: Path) -> None:
    with traffic_rollout(env, tmp_path, (), ()) as rollout:
        watch = rollout.deploy(metrics_spec(rollout.prometheus.url))
        with rollout.traffic:
            env.set_model("v2")
            status = env.wait_phase("Succeeded", timeout=180)

    assert watch.weights == [0, 5, 25, 50, 100, 0]
    reasons = env.event_reasons()
    assert reasons.count("MetricGatesPassed") == 3, "one per step with users on both arms"
    assert "MetricGateFailed" not in reasons
    assert status["metrics"]["evaluations"] >= 6


def test_prometheus_stopped_mid_rollout_holds_then_continues(
    env: RolloutEnv, tmp_path: Path
) -> None:
    with traffic_rollout(env, tmp_path, (), ()) as rollout:
        watch = rollout.deploy(metrics_spec(rollout.prometheus.url))
        with rollout.traffic:
            _roll_out_to_25_percent(env)
            rollout.prometheus.stop()
            stopped = time.monotonic()
            held = wait_for(lambda: _inconclusive(env), 60, 0.2, "an inconclusive window")
            # Several intervals later the rollout still holds at 25%: never promoted blind.
            wait_for(
                lambda: env.status()["metrics"]["inconclusiveStreak"] >= 3, 60, 0.5, "3 windows"
            )
            during = env.status()
            rollout.prometheus.start()
            restarted = time.monotonic()
            status = env.wait_phase("Succeeded", timeout=180)
            done = time.monotonic()

    print(f"\n[figure] while Prometheus was down: {during['phase']}, {during['message']}")
    assert during["canaryWeight"] == 25
    assert during["phase"] == "Progressing"
    reasons_during = [g["reason"] for g in held["metrics"]["gates"]]
    assert any("Prometheus" in r or "unreachable" in r or "refused" in r for r in reasons_during)
    assert "metrics inconclusive" in during["message"]
    assert watch.weights == [0, 5, 25, 50, 100, 0]
    assert status["metrics"]["inconclusiveStreak"] == 0
    reasons = env.event_reasons()
    assert "MetricsInconclusive" in reasons
    assert "MetricsConclusive" in reasons
    print(
        f"\n[figure] Prometheus down {restarted - stopped:.1f}s at 25%: held; "
        f"promoted {done - restarted:.1f}s after it came back"
    )


def _inconclusive(env: RolloutEnv) -> dict[str, Any] | None:
    status = env.status()
    metrics = status.get("metrics") or {}
    return status if metrics.get("inconclusiveStreak", 0) >= 1 else None


def test_sigkill_mid_analysis_resumes_from_status(env: RolloutEnv, tmp_path: Path) -> None:
    with traffic_rollout(env, tmp_path, (), ()) as rollout:
        watch = rollout.deploy(metrics_spec(rollout.prometheus.url))
        with rollout.traffic:
            env.set_model("v2")
            before = wait_for(lambda: _windows_at_step(env, 1), 120, 0.2, "a window at 25%")
            env.operator.kill()
            env.operator.start()
            status = env.wait_phase("Succeeded", timeout=180)

    assert watch.weights == [0, 5, 25, 50, 100, 0], "no step skipped or repeated"
    evaluations = before["metrics"]["evaluations"]
    # Windows at steps 1 and 2 before the kill, steps 2 and 3 after: the count went on.
    assert status["metrics"]["evaluations"] >= evaluations + 3
    assert env.event_reasons().count("MetricGatesPassed") == 3


def _windows_at_step(env: RolloutEnv, index: int) -> dict[str, Any] | None:
    status = env.status()
    metrics = status.get("metrics") or {}
    at_step = metrics.get("stepIndex") == index and metrics.get("gates")
    return status if at_step and min(g["windows"] for g in metrics["gates"]) >= 1 else None


def test_a_canary_no_longer_scraped_is_inconclusive_until_it_is_back(
    env: RolloutEnv, tmp_path: Path
) -> None:
    with traffic_rollout(env, tmp_path, (), ()) as rollout:
        watch = rollout.deploy(metrics_spec(rollout.prometheus.url))
        with rollout.traffic:
            _roll_out_to_25_percent(env)
            canary_target = rollout.targets[CANARY]
            rollout.prometheus.remove_targets(CANARY)  # its series go stale, then vanish
            held = wait_for(lambda: _inconclusive(env), 90, 0.2, "an inconclusive window")
            rollout.prometheus.add_targets(CANARY, [canary_target], rollout.labels(CANARY))
            status = env.wait_phase("Succeeded", timeout=180)

    reasons = [g["reason"] for g in held["metrics"]["gates"] if g["verdict"] == "Inconclusive"]
    assert reasons
    assert all("canary" in r for r in reasons), reasons
    assert held["canaryWeight"] == 25
    assert watch.weights == [0, 5, 25, 50, 100, 0]
    assert status["metrics"]["inconclusiveStreak"] == 0


def _roll_out_to_25_percent(env: RolloutEnv) -> None:
    env.set_model("v2")
    wait_for(lambda: env.status().get("canaryWeight") == 25, 120, 0.2, "step 2 (25%)")
