"""Quality gates end to end: real operator, real API server, demo model servers, real Tesseract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import wait_for
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.e2e.route_watch import RouteWatch

pytestmark = pytest.mark.e2e
SUITE = Path(__file__).parent / "data" / "small_suite.yaml"
# The demo server maps prompts to strata through the same suite the rollout uses.
LOGO_REGRESSION = (
    "--substitution-rate",
    "0.6",
    "--regress-stratum",
    "logos",
    "--suite",
    str(SUITE),
)


def analysis(baseline: str, canary: str, evidence: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "suite": {"configMapRef": {"name": "suite", "key": "suite.yaml"}},
        "endpoints": {"baseline": {"url": baseline}, "canary": {"url": canary}},
        "gates": [{"name": "text", "metric": "OCRAccuracy", "maxDegradation": "10"}],
        "alpha": "0.05",
        "minSamples": 4,
        "maxSamples": 400,
        "stage0": {"samples": 48, "batchSize": 4},
        "inconclusive": "Pause",
        "evidence": {"path": str(evidence), "retainRollouts": 3},
        "gpuSecondPrice": "0.0011",
        **overrides,
    }


def deploy_with_analysis(env: RolloutEnv, gates: dict[str, Any]) -> None:
    env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
    env.deploy_judged(analysis=gates)


def test_a_logo_regression_is_rolled_back_at_stage0_naming_the_stratum(
    env: RolloutEnv, tmp_path: Path
) -> None:
    with (
        demo_server(tmp_path, "baseline") as baseline,
        demo_server(tmp_path, "canary", *LOGO_REGRESSION) as canary,
    ):
        # Strata are drawn at random (weight 1/4 for logos): 128 stage-0 pairs hold 32 logo
        # pairs on average, and fewer than the ~16 the text/logos Fail needs once in a thousand.
        stage0 = {"samples": 128, "batchSize": 8}
        gates = analysis(baseline, canary, tmp_path / "evidence", stage0=stage0)
        deploy_with_analysis(env, gates)
        watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
        try:
            env.set_model("v2")
            status = env.wait_phase("Degraded", timeout=240)
        finally:
            watch.stop()

    assert watch.weights == [0], "a bad canary must be caught before it gets traffic"
    assert status["abort"] is True
    gates = {g["gate"]: g for g in status["analysis"]["gates"]}
    assert gates["text/logos"]["verdict"] == "Fail"
    assert float(gates["text/logos"]["canary"]) < float(gates["text/logos"]["baseline"])
    assert gates["text/typography"]["verdict"] != "Fail"
    progressing = {c["type"]: c for c in status["conditions"]}["Progressing"]
    assert progressing["reason"] == "AnalysisFailed"
    assert "text/logos" in progressing["message"]
    failed = [e["message"] for e in env.events() if e["reason"] == "GateFailed"]
    assert failed
    assert failed[0].startswith("text/logos")
    evidence = Path(status["analysis"]["evidence"])
    assert sorted(evidence.glob("*-canary.png")), "raw canary outputs are kept"
    metrics = env.operator.scrape()
    assert 'gate="text/logos",name="imagegen"' in metrics
    assert 'imagerollout_gate_evaluations_total{gate="text/logos"' in metrics
    assert 'verdict="Fail"} ' in metrics
    snapshot = status["analysis"]["snapshot"]
    assert float(snapshot["canary"]["typographyAccuracy"]) < float(
        snapshot["baseline"]["typographyAccuracy"]
    )


def test_a_good_canary_passes_every_gate_and_is_promoted(env: RolloutEnv, tmp_path: Path) -> None:
    with demo_server(tmp_path, "baseline") as baseline, demo_server(tmp_path, "canary") as canary:
        deploy_with_analysis(env, analysis(baseline, canary, tmp_path / "evidence"))
        watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
        try:
            env.set_model("v2")
            status = env.wait_phase("Succeeded", timeout=400)
        finally:
            watch.stop()
    assert watch.weights == [0, 5, 25, 50, 100, 0]
    assert {g["verdict"] for g in status["analysis"]["gates"]} == {"Pass"}
    assert "GatePassed" in env.event_reasons()
    assert "AnalysisFailed" not in env.event_reasons()


def test_an_aa_rollout_with_independent_noise_is_not_rolled_back(
    env: RolloutEnv, tmp_path: Path
) -> None:
    noise = ("--substitution-rate", "0.01")
    with (
        demo_server(tmp_path, "baseline", *noise, "--noise-seed", "1") as baseline,
        demo_server(tmp_path, "canary", *noise, "--noise-seed", "2") as canary,
    ):
        deploy_with_analysis(env, analysis(baseline, canary, tmp_path / "evidence", maxSamples=160))
        env.set_model("v2")
        status = wait_for(
            lambda: _finished_or_paused(env.status()), 400, 0.5, "the A/A rollout to settle"
        )
    assert status["phase"] != "Degraded", status.get("message")
    assert "AnalysisFailed" not in env.event_reasons()


def _finished_or_paused(status: dict[str, Any]) -> dict[str, Any] | None:
    """Promoted, rolled back, or paused by the Inconclusive policy after traffic began."""
    phase = status.get("phase")
    paused_in_traffic = phase == "Paused" and status.get("canaryWeight", 0) > 0
    return status if phase in ("Succeeded", "Degraded") or paused_in_traffic else None


def test_a_restart_resumes_sampling_from_status(env: RolloutEnv, tmp_path: Path) -> None:
    with demo_server(tmp_path, "baseline") as baseline, demo_server(tmp_path, "canary") as canary:
        long_stage0 = analysis(baseline, canary, tmp_path / "evidence", stage0={"samples": 400})
        deploy_with_analysis(env, long_stage0)
        env.set_model("v2")
        wait_for(lambda: _samples(env) >= 20, 120, 0.2, "20 pairs in status")
        env.operator.kill()
        at_kill = _samples(env)
        env.operator.start()
        wait_for(lambda: _samples(env) >= at_kill + 8, 120, 0.2, "sampling to go on")
        evidence = Path(env.status()["analysis"]["evidence"])
    numbers = sorted({int(p.name.split("-")[0]) for p in evidence.glob("*-canary.json")})
    assert numbers == list(range(len(numbers))), "the plan resumed without gaps or restarts"
    assert len(numbers) >= at_kill + 8


def _samples(env: RolloutEnv) -> int:
    analysis = env.status().get("analysis") or {}
    return int(analysis.get("samples", 0))
