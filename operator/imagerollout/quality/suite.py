"""The validation suite: prompts grouped by stratum, and the random plan that probes them.

A suite is versioned YAML (`version: imagerollout.dev/suite-v1`), shipped as a built-in default
and overridable from a ConfigMap. Each stratum has a weight (its probability of being drawn for
a probe) and a minimum number of samples; each prompt carries its first seeds and, where the
image should contain text, the expected text, which also appears in the prompt between double
quotes. `plan` draws every probe independently and never repeats a (prompt, seed) pair.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
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
RequestValue = bool | int | float | str


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
    # Sent with every request (guidance_scale, num_inference_steps, ...); the sampler lint
    # reads them.
    parameters: dict[Annotated[str, Field(min_length=1, max_length=64)], RequestValue] = Field(
        default_factory=dict, max_length=32
    )
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


def plan(suite: Suite, start: int = 0, salt: str = "") -> Iterator[Probe]:
    """Probes forever, each an independent random draw; deterministic given (suite, salt).

    Probe i draws its stratum with probability weight / sum(weights), then a prompt uniformly
    within that stratum, from a hash of (salt, i) alone. So every pair's stratum and prompt
    have the same fixed probabilities, independent of every outcome so far: the judge's
    pooled tests on the stratum-weighted effect are exact, and a restart that resumes at
    `start` (the sampler's plan_index) continues the very same sequence.

    The k-th draw of a prompt uses its k-th listed seed (the suite's curated seeds come
    first), and after those a fresh seed derived from (salt, prompt id, k). A model server
    is deterministic for a given (prompt, seed), so repeating a pair would only copy an
    earlier image: no (prompt, seed) repeats within a plan, and every pair is a new,
    independent draw of both models' output. Different salts (one per rollout) draw
    different fresh seeds. Resuming replays the draws before `start` to count each prompt's
    k, which costs a few microseconds per skipped probe.
    """
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    strata = suite.strata
    bounds = list(itertools.accumulate(s.weight for s in strata))
    seeds = {p.id: _seeds(p, salt) for s in strata for p in s.prompts}
    keyed = _keyed("probe", salt)
    for index in itertools.count():
        digest = _digest(keyed, index)
        stratum = strata[bisect.bisect_right(bounds, _below(digest[:8], bounds[-1]))]
        prompt = stratum.prompts[_below(digest[8:16], len(stratum.prompts))]
        seed = next(seeds[prompt.id])
        if index >= start:
            yield Probe(stratum.name, prompt.id, prompt.prompt, prompt.expected_text, seed)


SEED_MASK = 2**31 - 1  # fresh seeds fit every server's seed type, int32 as well as uint32


def _seeds(prompt: SuitePrompt, salt: str) -> Iterator[int]:
    """A prompt's seeds for its draws k = 0, 1, ...: the listed ones, then fresh ones, no repeat."""
    used: set[int] = set()
    keyed = _keyed("seed", salt, prompt.id)
    for seed in prompt.seeds:
        if seed not in used:  # a seed listed twice would repeat a pair
            used.add(seed)
            yield seed
    for k in itertools.count(len(prompt.seeds)):
        for attempt in itertools.count():
            seed = int.from_bytes(_digest(keyed, k, attempt)[:4]) & SEED_MASK
            if seed not in used:
                used.add(seed)
                yield seed
                break


def _keyed(purpose: str, *key: str) -> hashlib._Hash:
    """A sha256 state holding the purpose and key, length-prefixed so no two keys collide."""
    hasher = hashlib.sha256()
    for part in (purpose, *key):
        data = part.encode()
        hasher.update(len(data).to_bytes(4) + data)
    return hasher


def _digest(keyed: hashlib._Hash, *counters: int) -> bytes:
    hasher = keyed.copy()
    for counter in counters:
        hasher.update(counter.to_bytes(8))
    return hasher.digest()


def _below(chunk: bytes, bound: int) -> int:
    """A uniform integer in [0, bound) from random bytes (off by at most bound / 2**64)."""
    return (int.from_bytes(chunk) * bound) >> (8 * len(chunk))
