"""Gate cells: where the Fail budget goes, pooled Pass, per-stratum Fail, minSamples, errors."""

from __future__ import annotations

import random

import pytest

from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.core.judge import GateResult, Outcome, Verdict
from imagerollout.core.quality.analysis import AnalysisState, evaluate, planned_cells, record
from imagerollout.core.quality.cells import ERRORS_FAIL_SHARE, CellJudge, StratumInfo
from imagerollout.core.quality.gates import ArmScores, PairScores, gates_of

STRATA = (
    StratumInfo("typography", True, 30),
    StratumInfo("logos", True, 20),
    StratumInfo("plain", False, 10),
)
WEIGHTS = (4, 2, 1)


def arm(
    text: bool = True, ok: bool = True, latency: float = 2.0, sharp: float = 500.0
) -> ArmScores:
    return ArmScores(ok=ok, text_passed=text, latency_s=latency, sharpness=sharp)


def run(
    analysis: Analysis,
    canary: dict[str, ArmScores],
    pairs: int,
    baseline: ArmScores | None = None,
) -> tuple[list[str], Outcome, int]:
    """Record pairs stratum by stratum at the weights; stop at the first decision."""
    draw = random.Random(5)
    gates, state = gates_of(analysis), AnalysisState()
    outcome = Outcome.CONTINUE
    results: list[GateResult] = []
    for _ in range(pairs):
        stratum = draw.choices(STRATA, WEIGHTS)[0]
        base = baseline or arm()
        pair = PairScores(stratum.name, stratum.has_text, base, canary.get(stratum.name, base))
        state = record(state, gates, pair)
        results, outcome = evaluate(analysis, state, STRATA, 2000)
        if outcome in (Outcome.ROLLBACK, Outcome.PROMOTE):
            break
    failed = [r.gate for r in results if r.verdict == Verdict.FAIL]
    return failed, outcome, state.samples


def test_a_stratum_is_named_at_the_gate_budget_over_s_minus_one_once_the_pooled_cell_fails() -> (
    None
):
    planned = planned_cells(gates_of(Analysis()), STRATA)
    judge = CellJudge(0.05, planned)
    text = next(c for c in planned if c.gate.name == "text")  # two text strata here
    pooled, each = judge.fail_alphas(text)
    assert judge.naming_alpha(text) == pytest.approx(2 * pooled)
    assert each < pooled


def test_the_fail_budget_sums_to_alpha_and_the_errors_gate_takes_its_share() -> None:
    planned = planned_cells(gates_of(Analysis()), STRATA)
    judge = CellJudge(0.05, planned)
    total = 0.0
    for cells in planned:
        pooled, each = judge.fail_alphas(cells)
        total += pooled + each * len(cells.strata)
        if cells.gate.metric == Metric.ERRORS:
            assert pooled == pytest.approx(0.05 * ERRORS_FAIL_SHARE)
            assert not cells.strata
    assert total == pytest.approx(0.05)


def test_identical_arms_promote_with_the_default_gates_and_name_four_gates() -> None:
    failed, outcome, samples = run(Analysis(), {}, 400)
    assert (failed, outcome) == ([], Outcome.PROMOTE)
    assert samples <= 150
    results, _ = evaluate(Analysis(), AnalysisState(), STRATA, 2000)
    assert [r.gate for r in results if "/" not in r.gate] == [
        "text",
        "errors",
        "latency",
        "sharpness",
    ]


def test_a_regression_confined_to_logos_is_named_and_min_samples_does_not_delay_it() -> None:
    # The pooled cell sees the same discordant pairs; closed testing names logos with it.
    failed, outcome, _ = run(Analysis(), {"logos": arm(text=False)}, 400)
    assert outcome == Outcome.ROLLBACK
    assert "text/logos" in failed
    assert "text/typography" not in failed


def test_a_large_regression_fails_before_the_stratum_has_its_min_samples() -> None:
    strata_before = STRATA[0].min_samples
    _, outcome, samples = run(Analysis(), {"typography": arm(text=False)}, 400)
    assert outcome == Outcome.ROLLBACK
    assert samples * 4 / 7 < strata_before  # typography pairs so far, at its 4/7 share


def test_a_pass_waits_for_every_stratum_minimum() -> None:
    analysis = Analysis(gates=[Gate(name="text", metric=Metric.OCR_ACCURACY, max_degradation="50")])
    state = AnalysisState()
    for _ in range(25):  # typography only: logos has none of its 20
        pair = PairScores("typography", True, arm(), arm())
        state = record(state, gates_of(analysis), pair)
    results, outcome = evaluate(analysis, state, STRATA, 2000)
    text = next(r for r in results if r.gate == "text")
    assert text.verdict == Verdict.INCONCLUSIVE
    assert "logos" in text.reason
    assert outcome == Outcome.CONTINUE


def test_failed_canary_requests_fail_the_errors_gate_not_the_quality_gates() -> None:
    broken = arm(ok=False, text=False, latency=0.0, sharp=0.0)
    failed, outcome, samples = run(
        Analysis(), dict.fromkeys(("typography", "logos", "plain"), broken), 200
    )
    assert outcome == Outcome.ROLLBACK
    assert failed == ["errors"]
    assert samples <= 10


def test_a_slow_canary_fails_the_latency_gate_fast() -> None:
    slow = arm(latency=30.0)
    failed, outcome, samples = run(
        Analysis(), dict.fromkeys(("typography", "logos", "plain"), slow), 200
    )
    assert outcome == Outcome.ROLLBACK
    assert "latency" in failed
    assert samples <= 20


def test_a_blurred_canary_fails_the_sharpness_gate() -> None:
    blurred = arm(sharp=20.0)  # log10 about 1.4 below the baseline's 500
    failed, outcome, _ = run(
        Analysis(), dict.fromkeys(("typography", "logos", "plain"), blurred), 200
    )
    assert outcome == Outcome.ROLLBACK
    assert "sharpness" in failed


def test_state_round_trips_and_a_changed_margin_restarts_the_cell() -> None:
    gates = gates_of(Analysis())
    state = AnalysisState()
    for _ in range(10):
        state = record(state, gates, PairScores("plain", False, arm(), arm(latency=2.2)))
    assert AnalysisState.from_json(state.to_json()) == state
    wider = [
        g.model_copy(update={"max_degradation": "50"}) if g.name == "latency" else g for g in gates
    ]
    again = record(state, wider, PairScores("plain", False, arm(), arm()))
    assert again.betting["latency"].n == 1
    assert again.betting["sharpness"].n == 11
