"""Sampler-config lint: rules on the canary's generation settings, before stage 0.

The seed's starter config forced high guidance with aggressive sampling
(`Sampler(steps=20, guidance_scale=12.0)`); nothing looked at it. Settings are read by name
from the pod template's container env vars and args, and from the request parameters the
suite sends; every rule whose conditions all hold is a finding, Warn or Block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from imagerollout.api.sampler_policy import (
    BuiltInAction,
    Comparison,
    Condition,
    RuleAction,
    SamplerFinding,
    SamplerPolicy,
    SamplerRule,
    SettingSource,
)
from imagerollout.api.v1alpha1 import RolloutSpec
from imagerollout.core import reasons as R
from imagerollout.core.observations import Observations
from imagerollout.core.rollout.draft import Draft

GUIDANCE, STEPS = "guidanceScale", "steps"

BUILT_IN_SOURCES = (
    SettingSource(
        setting=GUIDANCE,
        env=["GUIDANCE_SCALE", "CFG_SCALE"],
        args=["--guidance-scale", "--guidance_scale", "--cfg-scale"],
        request=["guidance_scale", "cfg_scale"],
    ),
    SettingSource(
        setting=STEPS,
        env=["NUM_INFERENCE_STEPS", "INFERENCE_STEPS", "STEPS"],
        args=["--num-inference-steps", "--num_inference_steps", "--steps"],
        request=["num_inference_steps", "steps"],
    ),
)


def _rule(name: str, *when: tuple[str, Comparison, str]) -> SamplerRule:
    conditions = [Condition(setting=s, comparison=c, value=v) for s, c, v in when]
    return SamplerRule(name=name, when=conditions)


BUILT_IN_RULES = (
    # The seed's bad config: high guidance needs more steps, or it oversaturates and garbles.
    _rule(
        "high-guidance-few-steps",
        (GUIDANCE, Comparison.ABOVE, "9"),
        (STEPS, Comparison.BELOW, "30"),
    ),
    _rule("too-few-steps", (STEPS, Comparison.BELOW, "10")),
    _rule("extreme-guidance", (GUIDANCE, Comparison.ABOVE, "20")),
)


@dataclass(frozen=True)
class Reading:
    value: Decimal
    where: str  # "env GUIDANCE_SCALE", "arg --steps", "request num_inference_steps"


def read_settings(
    policy: SamplerPolicy, template: Mapping[str, Any], request: Mapping[str, object]
) -> dict[str, Reading]:
    """Every known setting found, with where it was read; a value that is no number is skipped."""
    containers = (template.get("spec") or {}).get("containers") or []
    found: dict[str, Reading] = {}
    for source in [*policy.sources, *BUILT_IN_SOURCES]:
        if source.setting in found:
            continue  # the policy's own sources come first
        reading = _first(_candidates(source, containers, request))
        if reading is not None:
            found[source.setting] = reading
    return found


def _candidates(
    source: SettingSource, containers: Sequence[Mapping[str, Any]], request: Mapping[str, object]
) -> list[tuple[object, str]]:
    out: list[tuple[object, str]] = []
    for container in containers:
        env = {e.get("name"): e.get("value") for e in container.get("env") or []}
        out += [(env[n], f"env {n}") for n in source.env if env.get(n) is not None]
        words = [
            str(w) for w in [*(container.get("command") or []), *(container.get("args") or [])]
        ]
        out += [(v, f"arg {n}") for n in source.args if (v := _flag(words, n)) is not None]
    out += [(request[n], f"request {n}") for n in source.request if n in request]
    return out


def _flag(words: Sequence[str], flag: str) -> str | None:
    for i, word in enumerate(words):
        if word == flag and i + 1 < len(words):
            return words[i + 1]
        if word.startswith(f"{flag}="):
            return word.split("=", 1)[1]
    return None


def _first(candidates: list[tuple[object, str]]) -> Reading | None:
    for value, where in candidates:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            continue
        if number.is_finite():
            return Reading(number, where)
    return None


def lint(
    policy: SamplerPolicy | None, template: Mapping[str, Any], request: Mapping[str, object]
) -> list[SamplerFinding]:
    """The findings for a canary's template and the suite's request parameters."""
    if policy is None:
        return []
    settings = read_settings(policy, template, request)
    rules: list[tuple[SamplerRule, RuleAction]] = [(r, r.action) for r in policy.rules]
    if policy.built_in != BuiltInAction.OFF:
        action = RuleAction(policy.built_in.value)
        rules += [(r, action) for r in BUILT_IN_RULES]
    findings = []
    for rule, action in rules:
        held = [_holds(c, settings) for c in rule.when]
        if all(h is not None for h in held):
            why = " and ".join(h for h in held if h is not None)
            findings.append(SamplerFinding(rule=rule.name, action=action.value, message=why))
    return findings


def _holds(condition: Condition, settings: Mapping[str, Reading]) -> str | None:
    """The condition's words with the value read, when it holds; None otherwise."""
    reading = settings.get(condition.setting)
    if reading is None:
        return None
    threshold = Decimal(condition.value)
    above = condition.comparison == Comparison.ABOVE
    if not (reading.value > threshold if above else reading.value < threshold):
        return None
    word = "above" if above else "below"
    return f"{condition.setting} {reading.value} ({reading.where}) {word} {threshold}"


def blocking(findings: Sequence[SamplerFinding]) -> str | None:
    """The InvalidSpec message for the Block findings, or None when nothing blocks."""
    blocked = [f for f in findings if f.action == RuleAction.BLOCK.value]
    if not blocked:
        return None
    told = "; ".join(f"rule {f.rule}: {f.message}" for f in blocked)
    return f"spec.analysis.samplerPolicy blocks the canary: {told}"


def lint_canary(spec: RolloutSpec, d: Draft, obs: Observations) -> str | None:
    """Lint the target (the canary to be) into status, an event per new finding; the Block
    message, if any. Called only while the target differs from the stable revision."""
    analysis, target = spec.analysis, obs.target
    if analysis is None or target is None:
        return None
    request = obs.analysis.request_parameters if obs.analysis is not None else {}
    findings = lint(analysis.sampler_policy, target.template, request)
    known = {(f.rule, f.message) for f in d.before.sampler_findings}
    for finding in findings:
        if finding.action == RuleAction.WARN.value and (finding.rule, finding.message) not in known:
            d.event(R.SAMPLER_POLICY_WARNING, f"rule {finding.rule}: {finding.message}", True)
    d.set(sampler_findings=findings)
    return blocking(findings)
