"""spec.analysis.samplerPolicy: rules on the canary's generation settings (guidance, steps).

A setting is read, by name, from where a model server keeps it: the env vars and args of the
target's pod template, and the request parameters the suite sends. A rule holds when all of its
conditions hold; Warn posts an event and lists it in status, Block keeps the rollout from
starting (InvalidSpec with the rule and the values), before stage 0 spends any GPU time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from imagerollout.api.fields import DNS_LABEL, ApiModel, decimal_field

SETTING = r"^[a-zA-Z][a-zA-Z0-9]*$"
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[-._A-Za-z0-9]+$")]


class RuleAction(StrEnum):
    WARN = "Warn"
    BLOCK = "Block"


class BuiltInAction(StrEnum):
    WARN = "Warn"
    BLOCK = "Block"
    OFF = "Off"


class Comparison(StrEnum):
    ABOVE = "Above"
    BELOW = "Below"


class SettingSource(ApiModel):
    """Where one setting is read: the first of these found wins (env, then args, then request)."""

    setting: str = Field(
        description="Setting name used by rules, such as guidanceScale or steps.",
        pattern=SETTING,
        max_length=63,
    )
    env: list[Name] = Field(
        default_factory=list, max_length=8, description="Container env var names."
    )
    args: list[Name] = Field(
        default_factory=list,
        max_length=8,
        description="Container args (or command) flags: --flag VALUE or --flag=VALUE.",
    )
    request: list[Name] = Field(
        default_factory=list, max_length=8, description="Request parameters the suite sends."
    )


class Condition(ApiModel):
    setting: str = Field(pattern=SETTING, max_length=63, description="A setting name.")
    comparison: Comparison = Field(description="Above: value > threshold; Below: value < it.")
    value: str = decimal_field("The threshold.", "1000000000")


class SamplerRule(ApiModel):
    name: str = Field(pattern=DNS_LABEL, max_length=63, description="Rule name (status, events).")
    action: RuleAction = Field(RuleAction.WARN, description="Warn or Block.")
    when: list[Condition] = Field(
        min_length=1, max_length=8, description="All must hold (a missing setting never holds)."
    )


class SamplerPolicy(ApiModel):
    built_in: BuiltInAction = Field(
        BuiltInAction.WARN,
        description="Action of the built-in rules (guidance above 9 with fewer than 30 steps; "
        "fewer than 10 steps; guidance above 20): Warn, Block or Off.",
    )
    sources: list[SettingSource] = Field(
        default_factory=list,
        max_length=16,
        description="Extra places to read settings; the built-in ones (GUIDANCE_SCALE, "
        "--guidance-scale, guidance_scale; NUM_INFERENCE_STEPS, --num-inference-steps, "
        "num_inference_steps) are always read too.",
    )
    rules: list[SamplerRule] = Field(default_factory=list, max_length=16)


class SamplerFinding(ApiModel):
    """A rule that holds for the canary, with the values that made it hold."""

    rule: str
    action: str = Field(description="Warn or Block.")
    message: str
