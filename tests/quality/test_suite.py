"""The suite format, the built-in default suite, and the random probe plan."""

from __future__ import annotations

import itertools
import re
import textwrap
from collections import Counter
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imagerollout.quality import suite as suite_module
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


def take(suite: Suite, count: int, start: int = 0, salt: str = "") -> list[Probe]:
    return list(itertools.islice(plan(suite, start, salt), count))


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


SALT = "ns/rollout/abc123"


def test_plan_is_deterministic_per_salt() -> None:
    assert take(default_suite(), 500) == take(default_suite(), 500)
    assert take(default_suite(), 500, salt=SALT) == take(default_suite(), 500, salt=SALT)


def test_different_salts_draw_different_plans() -> None:
    plans = [take(default_suite(), 200, salt=salt) for salt in ("", "a", "b", "ns/a/1", "ns/a/2")]
    orders = {tuple((p.stratum, p.prompt_id) for p in probes) for probes in plans}
    assert len(orders) == len(plans)
    # Fresh seeds differ too: the same prompt's draws beyond its listed seeds.
    listed = {(p.id, seed) for s in default_suite().strata for p in s.prompts for seed in p.seeds}
    fresh = [{(p.prompt_id, p.seed) for p in probes} - listed for probes in plans]
    assert all(fresh)
    assert all(not (a & b) for a, b in itertools.combinations(fresh, 2))


@pytest.mark.parametrize("start", [0, 1, 2, 7, 99, 1000, 4321])
def test_plan_resumes_at_the_same_probe(start: int) -> None:
    suite = default_suite()
    assert take(suite, 30, start=start, salt=SALT) == take(suite, start + 30, salt=SALT)[start:]


@settings(max_examples=50, deadline=None)
@given(start=st.integers(min_value=0, max_value=3000), salt=st.text(max_size=20))
def test_plan_resumes_at_any_index(start: int, salt: str) -> None:
    suite = load_suite(VALID)
    assert take(suite, 20, start=start, salt=salt) == take(suite, start + 20, salt=salt)[start:]


@pytest.mark.parametrize("salt", ["", SALT])
def test_plan_never_repeats_a_prompt_and_seed(salt: str) -> None:
    probes = take(default_suite(), 5000, salt=salt)
    pairs = Counter((p.prompt_id, p.seed) for p in probes)
    assert pairs.most_common(1)[0][1] == 1
    assert all(0 <= p.seed < 2**31 for p in probes)


def test_plan_uses_the_listed_seeds_first_and_in_order() -> None:
    suite = default_suite()
    drawn: dict[str, list[int]] = {}
    for probe in take(suite, 3000, salt=SALT):
        drawn.setdefault(probe.prompt_id, []).append(probe.seed)
    for prompt in (p for s in suite.strata for p in s.prompts):
        listed = len(prompt.seeds)
        assert drawn[prompt.id][:listed] == prompt.seeds
        assert not set(drawn[prompt.id][listed:]) & set(prompt.seeds)


def test_plan_uses_a_seed_listed_twice_once() -> None:
    suite = load_suite(VALID.replace("seeds: [5, 6, 7]", "seeds: [5, 6, 5, 7]"))
    seeds = [p.seed for p in take(suite, 200) if p.prompt_id == "hills"]
    assert seeds[:3] == [5, 6, 7]
    assert len(set(seeds)) == len(seeds)


def test_fresh_seeds_skip_values_already_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # With 16 possible fresh seeds, collisions are certain: every value still comes up once.
    monkeypatch.setattr(suite_module, "SEED_MASK", 15)
    prompt = SuitePrompt(id="a", prompt="Hills", seeds=[3, 9, 200])
    suite = Suite(
        version=SUITE_VERSION,
        name="one",
        strata=[Stratum(name="plain", weight=1, min_samples=1, prompts=[prompt])],
    )
    seeds = [p.seed for p in take(suite, 3 + 14)]
    assert seeds[:3] == [3, 9, 200]
    assert sorted(seeds[3:]) == [s for s in range(16) if s not in (3, 9)]


def test_plan_draws_strata_in_proportion_to_their_weight() -> None:
    suite = default_suite()
    total = sum(s.weight for s in suite.strata)
    counts = Counter(p.stratum for p in take(suite, 10_000, salt=SALT))
    for stratum in suite.strata:
        assert abs(counts[stratum.name] / 10_000 - stratum.weight / total) < 0.02


def test_plan_draws_prompts_uniformly_within_a_stratum() -> None:
    typography = default_suite().stratum("typography")
    probes = [p for p in take(default_suite(), 10_000, salt=SALT) if p.stratum == "typography"]
    counts = Counter(p.prompt_id for p in probes)
    assert set(counts) == {p.id for p in typography.prompts}
    expected = len(probes) / len(typography.prompts)  # about 364
    assert all(abs(n - expected) < 0.25 * expected for n in counts.values())


def test_the_drawn_prompts_do_not_depend_on_the_seeds() -> None:
    # Only the salt and the index choose a probe's stratum and prompt: the seeds (and so the
    # outcomes they lead to) cannot steer which prompts are drawn.
    reseeded = load_suite(VALID.replace("seeds: [1, 2]", "seeds: [8, 9, 10, 11]"))
    assert [(p.stratum, p.prompt_id) for p in take(reseeded, 300, salt=SALT)] == [
        (p.stratum, p.prompt_id) for p in take(load_suite(VALID), 300, salt=SALT)
    ]


def test_plan_carries_the_prompt_text_and_expected_text() -> None:
    suite = load_suite(VALID)
    for probe in take(suite, 50):
        prompt = next(p for s in suite.strata for p in s.prompts if p.id == probe.prompt_id)
        assert (probe.prompt, probe.expected_text) == (prompt.prompt, prompt.expected_text)
        assert suite.stratum(probe.stratum).prompts.count(prompt) == 1


def test_plan_rejects_a_negative_start() -> None:
    with pytest.raises(ValueError, match="start"):
        next(plan(default_suite(), -1))
    with pytest.raises(ValueError, match="start"):
        next(plan(default_suite(), -5, salt=SALT))


def test_request_parameters_are_part_of_a_suite() -> None:
    text = VALID.replace(
        "name: tiny\n", "name: tiny\nparameters: {guidance_scale: 7.5, steps: 30}\n"
    )
    assert load_suite(text).parameters == {"guidance_scale": 7.5, "steps": 30}
    assert load_suite(VALID).parameters == {}
    with pytest.raises(ValueError, match="parameters"):
        load_suite(VALID.replace("name: tiny\n", "name: tiny\nparameters: {a: [1]}\n"))
