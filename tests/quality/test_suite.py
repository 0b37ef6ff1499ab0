"""The suite format, the built-in default suite, and the probe plan."""

from __future__ import annotations

import itertools
import re
import textwrap
from collections import Counter
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerollout.quality.suite import (
    SUITE_VERSION,
    Probe,
    Stratum,
    Suite,
    SuitePrompt,
    default_suite,
    load_suite,
    plan,
)

STRATA = [
    "typography",
    "logos",
    "dense-layouts",
    "small-objects",
    "occluded-objects",
    "plain-scenes",
]
TEXT_STRATA = STRATA[:3]

VALID = textwrap.dedent(
    """\
    version: imagerollout.dev/suite-v1
    name: tiny
    strata:
      - name: typography
        weight: 2
        minSamples: 4
        prompts:
          - id: open
            prompt: 'A sign that says "OPEN"'
            expectedText: OPEN
            seeds: [1, 2]
          - id: price
            prompt: 'A tag that reads "$9.99"'
            expectedText: $9.99
            seeds: [3]
      - name: plain-scenes
        weight: 1
        minSamples: 2
        prompts:
          - id: hills
            prompt: Green hills
            seeds: [5, 6, 7]
    """
)


def take(suite: Suite, count: int, start: int = 0) -> list[Probe]:
    return list(itertools.islice(plan(suite, start), count))


# ---------------------------------------------------------------- default suite


def test_default_suite_ships_with_the_package() -> None:
    resource = resources.files("imagerollout.quality").joinpath("default_suite.yaml")
    assert resource.is_file()
    assert load_suite(resource.read_text("utf-8")) == default_suite()


def test_default_suite_has_the_six_strata() -> None:
    suite = default_suite()
    assert suite.version == SUITE_VERSION
    assert [s.name for s in suite.strata] == STRATA


def test_typography_weighs_most_and_every_stratum_has_a_minimum() -> None:
    suite = default_suite()
    weights = {s.name: s.weight for s in suite.strata}
    assert weights["typography"] > max(w for name, w in weights.items() if name != "typography")
    assert all(s.min_samples >= 10 for s in suite.strata)


@pytest.mark.parametrize("name", TEXT_STRATA)
def test_text_strata_have_quoted_expected_text(name: str) -> None:
    stratum = default_suite().stratum(name)
    assert len(stratum.prompts) >= 6
    for prompt in stratum.prompts:
        assert prompt.expected_text
        assert f'"{prompt.expected_text}"' in prompt.prompt
        assert len(prompt.seeds) >= 3


@pytest.mark.parametrize("name", STRATA[3:])
def test_scene_strata_have_no_expected_text(name: str) -> None:
    stratum = default_suite().stratum(name)
    assert len(stratum.prompts) >= 4
    assert all(p.expected_text is None and '"' not in p.prompt for p in stratum.prompts)


def test_typography_covers_short_long_numbers_and_mixed_case() -> None:
    texts = [p.expected_text or "" for p in default_suite().stratum("typography").prompts]
    assert any(len(t.split()) == 1 for t in texts)
    assert any(len(t.split()) >= 7 for t in texts)
    assert any("$" in t for t in texts)
    assert any(re.search(r"\d+\.\d\d", t) for t in texts)
    assert any(re.search(r"[a-z][A-Z]", t) for t in texts)  # camel-style mixed case


def test_prompt_lookup_maps_every_prompt_to_its_stratum() -> None:
    suite = default_suite()
    mapping = suite.stratum_of_prompt()
    assert len(mapping) == sum(len(s.prompts) for s in suite.strata)
    assert mapping[suite.stratum("logos").prompts[0].prompt] == "logos"


# ---------------------------------------------------------------- format


def test_valid_suite_loads_with_camel_case_fields() -> None:
    suite = load_suite(VALID)
    assert suite.stratum("typography").min_samples == 4
    assert suite.stratum("plain-scenes").prompts[0].expected_text is None


def test_models_can_be_built_in_python() -> None:
    prompt = SuitePrompt(id="a", prompt='Say "hi"', expected_text="hi", seeds=[1])
    stratum = Stratum(name="typography", weight=1, min_samples=1, prompts=[prompt])
    suite = Suite(version=SUITE_VERSION, name="py", strata=[stratum])
    assert take(suite, 1) == [Probe("typography", "a", 'Say "hi"', "hi", 1)]


def mutate(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: [", "not valid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        (mutate(SUITE_VERSION, "imagerollout.dev/suite-v0"), "unsupported suite version"),
        (mutate("name: tiny\n", ""), r"^  name: Field required"),
        (mutate("weight: 2", 'weight: "2"'), r"strata\[typography\]\.weight: Input should be"),
        (mutate("weight: 2", "weight: 0"), r"strata\[typography\]\.weight: .*greater than"),
        (mutate("seeds: [3]", "seeds: []"), r"prompts\[price\]\.seeds: List should have"),
        (mutate("seeds: [3]", "seeds: [-3]"), r"prompts\[price\]\.seeds\[0\]: .*greater"),
        (mutate("seeds: [3]", "seeds: [true]"), r"prompts\[price\]\.seeds\[0\]: .*integer"),
        (mutate("minSamples: 4", "minSample: 4"), r"strata\[typography\]\.minSample: Extra"),
        (mutate("id: price", "id: Price Tag"), r"prompts\[Price Tag\]\.id: String should match"),
        (mutate("expectedText: OPEN", "expectedText: CLOSED"), r"prompts\[open\]: .*CLOSED"),
        (mutate("expectedText: OPEN", "expectedText: ''"), r"prompts\[open\]: .*double quotes"),
        (mutate("id: price", "id: open"), "duplicate prompt id 'open'"),
        (mutate("id: hills", "id: open"), "duplicate prompt id 'open'"),
        (mutate("name: plain-scenes", "name: typography"), "duplicate stratum name 'typography'"),
        (mutate("strata:", "strata: []\nx:"), "strata"),
    ],
)
def test_bad_suites_name_the_field_and_prompt(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.compile(message, re.MULTILINE)):
        load_suite(text)


def test_every_problem_is_reported_at_once() -> None:
    text = mutate("weight: 2", "weight: -1").replace("seeds: [3]", "seeds: []")
    with pytest.raises(ValueError, match=r"2 problem") as caught:
        load_suite(text)
    assert "strata[typography].weight" in str(caught.value)
    assert "strata[typography].prompts[price].seeds" in str(caught.value)


# ---------------------------------------------------------------- plan


def test_plan_draws_each_stratum_by_weight_per_cycle() -> None:
    suite = default_suite()
    cycle = sum(s.weight for s in suite.strata)
    for start in (0, cycle * 5):
        counts = Counter(p.stratum for p in take(suite, cycle, start=start))
        assert counts == {s.name: s.weight for s in suite.strata}


def test_plan_interleaves_instead_of_bunching() -> None:
    suite = default_suite()
    strata = [p.stratum for p in take(suite, 200)]
    longest = max(len(list(run)) for _, run in itertools.groupby(strata))
    assert longest <= 2
    # A short run already reaches every stratum.
    assert set(strata[: sum(s.weight for s in suite.strata)]) == set(STRATA)


def test_plan_turns_through_prompts_then_seeds() -> None:
    probes = [p for p in take(load_suite(VALID), 30) if p.stratum == "typography"]
    assert [(p.prompt_id, p.seed) for p in probes[:6]] == [
        ("open", 1),
        ("price", 3),
        ("open", 2),
        ("price", 3),
        ("open", 1),
        ("price", 3),
    ]
    assert probes[1].expected_text == "$9.99"


def test_plan_covers_every_prompt_and_seed() -> None:
    suite = default_suite()
    wanted = {(p.id, seed) for s in suite.strata for p in s.prompts for seed in p.seeds}
    seen = {(p.prompt_id, p.seed) for p in take(suite, 2000)}
    assert seen == wanted


def test_plan_is_deterministic() -> None:
    assert take(default_suite(), 100) == take(default_suite(), 100)


@settings(max_examples=50, deadline=None)
@given(start=st.integers(min_value=0, max_value=5000))
def test_plan_resumes_at_any_index(start: int) -> None:
    suite = load_suite(VALID)
    assert take(suite, 20, start=start) == take(suite, start + 20)[start:]


def test_plan_resumes_far_ahead_without_replaying() -> None:
    suite = load_suite(VALID)  # cycle of 3: typography, plain-scenes, typography
    far = 3 * 10**12  # replaying this many probes would never finish
    assert [(p.stratum, p.prompt_id) for p in take(suite, 3, start=far)] == [
        ("typography", "open"),
        ("plain-scenes", "hills"),
        ("typography", "price"),
    ]
    # 2 * 10**12 typography draws so far: an even number of passes over 2 prompts, seed index 0.
    assert take(suite, 1, start=far)[0].seed == 1


def test_plan_rejects_a_negative_start() -> None:
    with pytest.raises(ValueError, match="start"):
        next(plan(default_suite(), -1))
