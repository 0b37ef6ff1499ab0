"""The validation suite: prompts grouped by stratum, and the order in which they are probed.

A suite is versioned YAML (`version: imagerollout.dev/suite-v1`), shipped as a built-in default
and overridable from a ConfigMap. Each stratum has a weight (its share of the probes) and a
minimum number of samples; each prompt carries its seeds and, where the image should contain
text, the expected text, which also appears in the prompt between double quotes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

SUITE_VERSION: Final = "imagerollout.dev/suite-v1"
DEFAULT_SUITE_RESOURCE = "default_suite.yaml"

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=_NAME)]
# Seeds stay within what common servers accept (uint32).
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


class _SuiteModel(BaseModel):
    # strict: "3" is not a weight and `true` is not a seed; forbid: a typo is an error, not a no-op.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )


class SuitePrompt(_SuiteModel):
    id: Name
    prompt: str = Field(min_length=1, max_length=2000)
    expected_text: str | None = None
    seeds: list[Seed] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _expected_text_is_quoted(self) -> SuitePrompt:
        # Generators and the demo server take the text to render from the quotes in the prompt.
        text = self.expected_text
        if text is not None and (not text.strip() or f'"{text}"' not in self.prompt):
            raise ValueError(f"expectedText {text!r} must appear in the prompt in double quotes")
        return self


class Stratum(_SuiteModel):
    name: Name
    weight: int = Field(ge=1, le=100)
    min_samples: int = Field(ge=0, le=100_000)
    prompts: list[SuitePrompt] = Field(min_length=1)


class Suite(_SuiteModel):
    version: Literal["imagerollout.dev/suite-v1"]
    name: str = Field(min_length=1, max_length=253)
    description: str | None = None
    strata: list[Stratum] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        _require_unique("stratum name", [s.name for s in self.strata])
        _require_unique("prompt id", [p.id for s in self.strata for p in s.prompts])
        return self

    def stratum(self, name: str) -> Stratum:
        for stratum in self.strata:
            if stratum.name == name:
                return stratum
        raise KeyError(name)

    def stratum_of_prompt(self) -> dict[str, str]:
        """Prompt text -> stratum name (the first stratum wins if a prompt is repeated)."""
        mapping: dict[str, str] = {}
        for stratum in self.strata:
            for prompt in stratum.prompts:
                mapping.setdefault(prompt.prompt, stratum.name)
        return mapping


def _require_unique(what: str, values: Sequence[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


def load_suite(text: str) -> Suite:
    """Parse and validate a suite; every problem is a ValueError naming the field and prompt."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"suite is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError("suite must be a YAML mapping with version, name and strata")
    # Check the version first: a suite in another format would otherwise fail field by field.
    if data.get("version") != SUITE_VERSION:
        raise ValueError(
            f"unsupported suite version {data.get('version')!r}; expected {SUITE_VERSION!r}"
        )
    try:
        return Suite.model_validate(data)
    except ValidationError as err:
        raise ValueError(_describe(err, data)) from None


def _describe(err: ValidationError, data: Any) -> str:
    lines = [f"invalid suite ({err.error_count()} problem(s)):"]
    for problem in err.errors(include_url=False):
        where = _readable_location(data, problem["loc"]) or "suite"
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)


def _readable_location(data: Any, loc: tuple[int | str, ...]) -> str:
    """("strata", 0, "prompts", 3, "seeds") -> "strata[typography].prompts[price-tag].seeds"."""
    parts: list[str] = []
    node = data
    for key in loc:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and key < len(node) else None
            label = node.get("id") or node.get("name") if isinstance(node, dict) else None
            # Name list entries by their id or name when they have one: indexes are hard to find.
            parts.append(f"[{label}]" if isinstance(label, str) else f"[{key}]")
        else:
            node = node.get(key) if isinstance(node, dict) else None
            parts.append(f".{key}" if parts else key)
    return "".join(parts)


def default_suite() -> Suite:
    """The built-in suite shipped with the package."""
    text = resources.files(__package__).joinpath(DEFAULT_SUITE_RESOURCE).read_text("utf-8")
    return load_suite(text)


@dataclass(frozen=True)
class Probe:
    stratum: str
    prompt_id: str
    prompt: str
    expected_text: str | None
    seed: int


def plan(suite: Suite, start: int = 0) -> Iterator[Probe]:
    """Probes forever, in a deterministic weighted round-robin over the strata.

    Every cycle of sum(weights) probes holds `weight` probes of each stratum, interleaved
    smoothly (so a short run still touches every stratum). Within a stratum the prompts take
    turns; after each full pass over its prompts, every prompt moves on to its next seed.
    `start` skips that many probes, so a restarted rollout resumes where it stopped.
    """
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    cycle = _interleave([s.weight for s in suite.strata])
    full_cycles, offset = divmod(start, len(cycle))
    drawn = [full_cycles * s.weight for s in suite.strata]
    for position in cycle[:offset]:
        drawn[position] += 1
    index = offset
    while True:
        position = cycle[index]
        yield _probe(suite.strata[position], drawn[position])
        drawn[position] += 1
        index = (index + 1) % len(cycle)


def _interleave(weights: Sequence[int]) -> list[int]:
    """Smooth weighted round-robin (as in nginx): [2, 1] -> [0, 1, 0]."""
    total = sum(weights)
    current = [0] * len(weights)
    order: list[int] = []
    for _ in range(total):
        for i, weight in enumerate(weights):
            current[i] += weight
        best = max(range(len(weights)), key=lambda i: (current[i], -i))
        current[best] -= total
        order.append(best)
    return order


def _probe(stratum: Stratum, draw: int) -> Probe:
    rounds, which = divmod(draw, len(stratum.prompts))
    prompt = stratum.prompts[which]
    return Probe(
        stratum=stratum.name,
        prompt_id=prompt.id,
        prompt=prompt.prompt,
        expected_text=prompt.expected_text,
        seed=prompt.seeds[rounds % len(prompt.seeds)],
    )
