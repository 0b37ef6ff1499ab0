"""The sampler-config lint: settings read from env, args and request parameters; Warn and Block."""

from __future__ import annotations

from typing import Any

import pytest

from imagerollout.api.sampler_policy import SamplerPolicy
from imagerollout.api.v1alpha1 import Phase, RolloutSpec
from imagerollout.core import reasons as R
from imagerollout.core.observations import AnalysisObservation, DeploymentView
from imagerollout.core.quality.analysis import AnalysisState
from imagerollout.core.rollout.conditions import find
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.revision import template_revision
from imagerollout.core.rollout.sampler_lint import blocking, lint, read_settings
from tests.core.builders import (
    CANARY_IMAGE,
    NOW,
    SPEC,
    initialized,
    make_obs,
    primary,
    reasons,
    template,
    weights,
)


def with_settings(env: dict[str, str] | None = None, args: list[str] | None = None) -> Any:
    body = template(CANARY_IMAGE)
    container = body["spec"]["containers"][0]
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if args:
        container["args"] = args
    return body


SEED_CONFIG = {"GUIDANCE_SCALE": "12", "NUM_INFERENCE_STEPS": "20"}


def test_the_seeds_config_is_found_in_env_and_named_with_its_values() -> None:
    policy = SamplerPolicy(built_in="Block")
    findings = lint(policy, with_settings(SEED_CONFIG), {})
    assert [f.rule for f in findings] == ["high-guidance-few-steps"]
    message = blocking(findings)
    assert message is not None
    assert "guidanceScale 12 (env GUIDANCE_SCALE) above 9" in message
    assert "steps 20 (env NUM_INFERENCE_STEPS) below 30" in message


@pytest.mark.parametrize(
    ("env", "args", "request_parameters"),
    [
        ({}, ["--guidance-scale", "12", "--num-inference-steps=20"], {}),
        ({}, [], {"guidance_scale": 12.0, "num_inference_steps": 20}),
        ({"GUIDANCE_SCALE": "12"}, ["--steps", "20"], {}),
    ],
)
def test_settings_are_read_from_args_and_request_parameters_too(
    env: dict[str, str], args: list[str], request_parameters: dict[str, object]
) -> None:
    findings = lint(SamplerPolicy(), with_settings(env, args), request_parameters)
    assert [(f.rule, f.action) for f in findings] == [("high-guidance-few-steps", "Warn")]
    assert blocking(findings) is None  # Warn never blocks


def test_sane_settings_and_unreadable_values_give_no_finding() -> None:
    assert lint(SamplerPolicy(built_in="Block"), with_settings({"GUIDANCE_SCALE": "7.5"}), {}) == []
    sane = {"GUIDANCE_SCALE": "12", "NUM_INFERENCE_STEPS": "40"}
    assert lint(SamplerPolicy(built_in="Block"), with_settings(sane), {}) == []
    garbage = {"GUIDANCE_SCALE": "high", "NUM_INFERENCE_STEPS": "20"}
    assert lint(SamplerPolicy(built_in="Block"), with_settings(garbage), {}) == []
    assert lint(SamplerPolicy(built_in="Off"), with_settings(SEED_CONFIG), {}) == []
    assert lint(None, with_settings(SEED_CONFIG), {}) == []


def test_a_custom_rule_reads_a_custom_source() -> None:
    policy = SamplerPolicy.model_validate(
        {
            "builtIn": "Off",
            "sources": [{"setting": "strength", "env": ["DENOISE_STRENGTH"]}],
            "rules": [
                {
                    "name": "weak-denoise",
                    "action": "Block",
                    "when": [{"setting": "strength", "comparison": "Below", "value": "0.3"}],
                }
            ],
        }
    )
    body = with_settings({"DENOISE_STRENGTH": "0.2"})
    assert read_settings(policy, body, {})["strength"].where == "env DENOISE_STRENGTH"
    assert [f.rule for f in lint(policy, body, {})] == ["weak-denoise"]


def spec_with(policy: dict[str, Any]) -> RolloutSpec:
    raw = SPEC.model_dump(by_alias=True, exclude_none=True)
    raw["analysis"] = {"samplerPolicy": policy}
    return RolloutSpec.model_validate(raw)


def canary(env: dict[str, str]) -> DeploymentView:
    body = with_settings(env)
    return DeploymentView(template_revision(body), CANARY_IMAGE, 2, True, body, {"app": "imagegen"})


def sampling_obs(target: DeploymentView) -> Any:
    return make_obs(target, primary(), analysis=AnalysisObservation(AnalysisState(), ()))


def test_block_keeps_the_rollout_from_starting_with_invalid_spec() -> None:
    decision = decide(
        spec_with({"builtIn": "Block"}), initialized(), sampling_obs(canary(SEED_CONFIG)), NOW
    )
    status = decision.status
    assert status.canary is None, "the rollout must not start"
    assert status.phase == Phase.DEGRADED
    assert weights(decision.actions) == []
    invalid = find(status.conditions, R.INVALID_SPEC)
    assert invalid is not None
    assert invalid.status == "True"
    assert invalid.reason == R.SAMPLER_POLICY_BLOCKED
    assert "high-guidance-few-steps" in invalid.message
    assert "guidanceScale 12" in invalid.message
    assert R.SAMPLER_POLICY_BLOCKED in reasons(decision)
    assert [f.rule for f in status.sampler_findings] == ["high-guidance-few-steps"]


def test_warn_starts_the_rollout_with_an_event_once_and_the_finding_in_status() -> None:
    spec, obs = spec_with({}), sampling_obs(canary(SEED_CONFIG))
    first = decide(spec, initialized(), obs, NOW)
    assert first.status.canary is not None
    assert reasons(first).count(R.SAMPLER_POLICY_WARNING) == 1
    assert [f.action for f in first.status.sampler_findings] == ["Warn"]
    again = decide(spec, first.status, obs, NOW)
    assert R.SAMPLER_POLICY_WARNING not in reasons(again)
