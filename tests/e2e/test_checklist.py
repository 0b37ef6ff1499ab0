"""The seed's checklist end to end: the sampler-config lint blocks a bad canary before stage 0,
NetCost promotes a costlier but more accurate canary, `judge --ocr rapidocr` and `--replay`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import REPO_ROOT, wait_for
from tests.e2e.rollout_env import NAME, RolloutEnv
from tests.e2e.route_watch import RouteWatch

pytestmark = pytest.mark.e2e
SUITE = Path(__file__).parent / "data" / "small_suite.yaml"
JUDGE = [sys.executable, "-m", "imagerollout.cli.main", "judge"]
ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "operator"), "HOME": "/tmp"}


def test_high_guidance_with_few_steps_is_blocked_before_stage0(
    env: RolloutEnv, tmp_path: Path
) -> None:
    evidence = tmp_path / "evidence"
    with demo_server(tmp_path, "baseline") as baseline, demo_server(tmp_path, "canary") as canary:
        env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
        env.deploy_judged(
            analysis={
                "suite": {"configMapRef": {"name": "suite", "key": "suite.yaml"}},
                "endpoints": {"baseline": {"url": baseline}, "canary": {"url": canary}},
                "stage0": {"samples": 16, "batchSize": 4},
                "evidence": {"path": str(evidence), "retainRollouts": 3},
                "samplerPolicy": {"builtIn": "Block"},
            }
        )
        watch = RouteWatch(env.cluster.kubeconfig, env.namespace, NAME)
        try:
            # The seed's starter config: Sampler(steps=20, guidance_scale=12.0).
            env.kubectl(
                "set", "env", f"deployment/{NAME}", "GUIDANCE_SCALE=12", "NUM_INFERENCE_STEPS=20"
            )

            def blocked() -> dict[str, Any] | None:
                status = env.status()
                conditions = {c["type"]: c for c in status.get("conditions", [])}
                invalid = conditions.get("InvalidSpec", {})
                return status if invalid.get("reason") == "SamplerPolicyBlocked" else None

            status = wait_for(blocked, 60, 0.2, "InvalidSpec SamplerPolicyBlocked")
        finally:
            watch.stop()
    message = {c["type"]: c for c in status["conditions"]}["InvalidSpec"]["message"]
    assert "high-guidance-few-steps" in message
    assert "guidanceScale 12 (env GUIDANCE_SCALE) above 9" in message
    assert "steps 20 (env NUM_INFERENCE_STEPS) below 30" in message
    assert status.get("canary") is None, "the rollout must not start"
    assert status.get("analysis") is None, "no pair probed: a blocked config costs no GPU time"
    assert watch.weights == [0]
    assert not list(evidence.glob("*/*.png")), "no image generated"
    events = [e for e in env.events() if e["reason"] == "SamplerPolicyBlocked"]
    assert events
    assert "guidanceScale 12" in events[0]["message"]


def test_a_costlier_but_more_accurate_canary_is_promoted_under_net_cost(
    env: RolloutEnv, tmp_path: Path
) -> None:
    # The seed's upgrade on the demo servers: the baseline garbles about half the texts at
    # $0.045 an image, the canary renders them right at $0.065.
    with (
        demo_server(
            tmp_path, "baseline", "--substitution-rate", "0.1", "--image-cost", "0.045"
        ) as baseline,
        demo_server(tmp_path, "canary", "--image-cost", "0.065") as canary,
    ):
        env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
        env.deploy_judged(
            analysis={
                "suite": {"configMapRef": {"name": "suite", "key": "suite.yaml"}},
                "endpoints": {"baseline": {"url": baseline}, "canary": {"url": canary}},
                "gates": [
                    {
                        "name": "net-cost",
                        "metric": "NetCost",
                        "maxDegradation": "0.005",
                        "netCost": {"reworkCost": "0.25"},
                    },
                    # A loose error gate passes in ~20 pairs (5 points would need ~93).
                    {"name": "errors", "metric": "Errors", "maxDegradation": "20"},
                ],
                "minSamples": 4,
                "maxSamples": 600,
                "stage0": {"samples": 24, "batchSize": 4},
                "evidence": {"path": str(tmp_path / "evidence"), "retainRollouts": 3},
            }
        )
        env.set_model("v2")
        status = env.wait_phase("Succeeded", timeout=300)
    analysis = status["analysis"]
    print(f"\nNetCost promoted after {analysis['samples']} pairs: {analysis['snapshot']}")
    heads = {g["gate"]: g for g in status["analysis"]["gates"] if "/" not in g["gate"]}
    assert heads["net-cost"]["verdict"] == "Pass", heads
    snapshot = status["analysis"]["snapshot"]
    baseline_arm, canary_arm = snapshot["baseline"], snapshot["canary"]
    assert float(canary_arm["costPerImage"]) > float(baseline_arm["costPerImage"])
    assert float(canary_arm["netCostPerUsableImage"]) < float(baseline_arm["netCostPerUsableImage"])
    assert float(canary_arm["typographyAccuracy"]) > float(baseline_arm["typographyAccuracy"])


def test_judge_with_rapidocr_against_the_demo_servers_and_its_replay(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    with (
        demo_server(tmp_path, "baseline") as baseline,
        demo_server(tmp_path, "canary", "--substitution-rate", "0.6") as canary,
    ):
        judged = subprocess.run(
            [
                *JUDGE,
                "--baseline",
                baseline,
                "--canary",
                canary,
                "--ocr",
                "rapidocr",
                "--gate",
                "text:OCRAccuracy:10",
                "--size",
                "256x256",
                "--max-samples",
                "64",
                "--evidence",
                str(evidence),
                "--json",
                "-",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=ENV,
        )
    assert judged.returncode == 1, judged.stderr[-2000:]
    report = json.loads(judged.stdout[judged.stdout.index("{") :])
    assert report["outcome"] == "Rollback"
    text = next(g for g in report["gates"] if g["gate"] == "text")
    assert text["verdict"] == "Fail"
    assert text["baseline"] > 0.9, "RapidOCR reads the demo's clean renders"
    # The same evidence judged again offline, by the other engine: no model is called (the
    # servers are gone) and the garbled text still fails.
    folder = next(evidence.iterdir())
    replayed = subprocess.run(
        [*JUDGE, "--replay", str(folder), "--ocr", "tesseract", "--gate", "text:OCRAccuracy:10"],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )
    assert replayed.returncode == 1, replayed.stderr[-2000:]
    assert "recorded: Rollback" in replayed.stderr
    assert "outcome: Rollback" in replayed.stdout
