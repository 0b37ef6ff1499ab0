"""The default gate set (`analysis` without gates) end to end: real operator, real API server,
demo model servers and real Tesseract.

`analysis: {gates: []}` judges text (OCRAccuracy 5), errors (Errors 5), latency (LatencyRatio
25) and sharpness (Sharpness 0.3). A good canary must be promoted on its own, and a canary that
fails requests, or answers much slower, must be rolled back at stage 0, before any traffic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_servers import demo_server
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.e2e.route_watch import RouteWatch

pytestmark = pytest.mark.e2e
# The small suite decides in about 110 pairs (the built-in one, with typography's minSamples of
# 30 at 4/11 of the draws, in about 150).
SUITE = Path(__file__).parent / "data" / "small_suite.yaml"
DEFAULT_GATES = {"text", "errors", "latency", "sharpness"}
# A Fail at 0.25 errors takes about 20 pairs (99% within 44): stage 0 has room for it.
STAGE0 = {"samples": 64, "batchSize": 4}


def default_analysis(baseline: str, canary: str, evidence: Path) -> dict[str, Any]:
    """Realistic sample sizes and no gates: the default set is judged."""
    return {
        "suite": {"configMapRef": {"name": "suite", "key": "suite.yaml"}},
        "endpoints": {"baseline": {"url": baseline}, "canary": {"url": canary}},
        "minSamples": 10,
        "maxSamples": 600,
        "stage0": STAGE0,
        "evidence": {"path": str(evidence), "retainRollouts": 3},
    }


@contextmanager
def judged_rollout(env: RolloutEnv, tmp_path: Path, *canary_knobs: str) -> Iterator[RouteWatch]:
    """Two demo servers (the canary with knobs), the rollout with default gates, v2 applied."""
    with (
        demo_server(tmp_path, "baseline") as baseline,
        demo_server(tmp_path, "canary", *canary_knobs) as canary,
    ):
        env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
        env.deploy_judged(analysis=default_analysis(baseline, canary, tmp_path / "evidence"))
        watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
        try:
            env.set_model("v2")
            yield watch
        finally:
            watch.stop()


def gate_heads(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """status.analysis.gates without the per-stratum cells."""
    return {g["gate"]: g for g in status["analysis"]["gates"] if "/" not in g["gate"]}


def report(label: str, status: dict[str, Any], started: float) -> None:
    analysis = status["analysis"]
    gates = ", ".join(
        f"{g['gate']}={g['verdict']}@{g['samples']}" for g in gate_heads(status).values()
    )
    print(
        f"\n{label}: {status['phase']} after {analysis['samples']} pairs "
        f"in {time.monotonic() - started:.0f}s ({gates})"
    )


def failed_gate_events(env: RolloutEnv) -> list[str]:
    return [e["message"] for e in env.events() if e["reason"] == "GateFailed"]


def test_a_good_canary_with_the_default_gate_set_is_promoted_on_its_own(
    env: RolloutEnv, tmp_path: Path
) -> None:
    started = time.monotonic()
    with judged_rollout(env, tmp_path) as watch:
        status = env.wait_phase("Succeeded", timeout=600)
    report("good canary", status, started)

    assert watch.weights == [0, 5, 25, 50, 100, 0], "every step, then the promotion"
    heads = gate_heads(status)
    assert set(heads) == DEFAULT_GATES, status["analysis"]["gates"]
    assert {g["gate"]: g["verdict"] for g in heads.values()} == dict.fromkeys(DEFAULT_GATES, "Pass")
    assert {g["verdict"] for g in status["analysis"]["gates"]} == {"Pass"}
    assert status["analysis"]["outcome"] == "Promote"
    reasons = env.event_reasons()
    passed = [e["message"].split(":")[0] for e in env.events() if e["reason"] == "GatePassed"]
    assert set(passed) == DEFAULT_GATES
    # Nobody promoted, resumed or accepted an Inconclusive by hand.
    for manual in ("PromotionRequested", "RolloutResumed", "AnalysisInconclusive"):
        assert manual not in reasons, reasons
    assert "AnalysisFailed" not in reasons


def assert_rolled_back_at_stage0(
    env: RolloutEnv, weights: list[int], status: Any, gate: str
) -> None:
    """Degraded with no user traffic ever, and status, condition and events name `gate`."""
    assert weights == [0], "a bad canary must be caught before it gets traffic"
    assert status["abort"] is True
    assert status["analysis"]["samples"] <= STAGE0["samples"] + STAGE0["batchSize"]
    failing = {g["gate"] for g in status["analysis"]["gates"] if g["verdict"] == "Fail"}
    assert {g.split("/")[0] for g in failing} == {gate}, failing
    progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert progressing["reason"] == "AnalysisFailed"
    assert progressing["message"].startswith(gate), progressing["message"]
    failed = failed_gate_events(env)
    assert failed
    assert failed[0].startswith(gate), failed


def test_the_error_gate_rolls_back_at_stage0(env: RolloutEnv, tmp_path: Path) -> None:
    started = time.monotonic()
    with judged_rollout(env, tmp_path, "--error-rate", "0.25") as watch:
        status = env.wait_phase("Degraded", timeout=300)
    report("failing canary", status, started)
    assert_rolled_back_at_stage0(env, watch.weights, status, "errors")
    errors = gate_heads(status)["errors"]
    assert float(errors["canary"]) < float(errors["baseline"])
    assert int(status["analysis"]["snapshot"]["canary"]["errors"]) > 0


def test_the_latency_gate_rolls_back_at_stage0(env: RolloutEnv, tmp_path: Path) -> None:
    started = time.monotonic()
    with judged_rollout(env, tmp_path, "--latency-ms", "1500") as watch:
        status = env.wait_phase("Degraded", timeout=300)
    report("slow canary", status, started)
    assert_rolled_back_at_stage0(env, watch.weights, status, "latency")
    latency = gate_heads(status)["latency"]
    assert float(latency["canary"]) > float(latency["baseline"]) + 1.0  # geometric means, s
