"""Judging per capability: its strata decide it; the other strata decide the general promotion."""

from __future__ import annotations

import random

from imagerollout.api.capabilities import Capability
from imagerollout.api.v1alpha1 import Analysis, Gate, Metric
from imagerollout.core.judge import GateResult, Outcome, Verdict
from imagerollout.core.quality.analysis import AnalysisState, evaluate, judged_gates, record
from imagerollout.core.quality.cells import StratumInfo
from imagerollout.core.quality.gates import ArmScores, PairScores, gates_of
from imagerollout.core.quality.scopes import Scopes, scope_of, told, unscoped

STRATA = (
    StratumInfo("typography", True, 10),
    StratumInfo("logos", True, 10),
    StratumInfo("signs", True, 10),
    StratumInfo("plain", False, 5),
)
ANALYSIS = Analysis(gates=[Gate(name="text", metric=Metric.OCR_ACCURACY, max_degradation="10")])


def capability(name: str = "typography", **fields: object) -> Capability:
    return Capability.model_validate(
        {
            "name": name,
            "match": {"headers": [{"name": "x-image-job", "value": name}]},
            "strata": ["typography", "logos"],
            **fields,
        }
    )


def run(scopes: Scopes, pairs: int = 600) -> tuple[Outcome, dict[str, Verdict]]:
    """Logos garbled on the canary, everything else identical; stop at the first decision."""
    draw = random.Random(3)
    gates, state = judged_gates(ANALYSIS, STRATA, scopes), AnalysisState()
    outcome, results = Outcome.CONTINUE, list[GateResult]()
    for _ in range(pairs):
        stratum = draw.choice(STRATA)
        good = ArmScores(ok=True, text_passed=True, latency_s=1.0)
        bad = ArmScores(ok=True, text_passed=draw.random() > 0.7, latency_s=1.0)
        canary = bad if stratum.name == "logos" else good
        state = record(state, gates, PairScores(stratum.name, stratum.has_text, good, canary))
        results, outcome = evaluate(ANALYSIS, state, STRATA, 2000, scopes)
        if outcome in (Outcome.ROLLBACK, Outcome.PROMOTE):
            break
    return outcome, {r.gate: r.verdict for r in results}


def test_without_capabilities_the_gates_are_unchanged() -> None:
    assert judged_gates(ANALYSIS, STRATA, Scopes()) == gates_of(ANALYSIS)
    outcome, verdicts = run(Scopes())
    assert outcome == Outcome.ROLLBACK
    assert verdicts["text/logos"] == Verdict.FAIL


def test_each_gate_is_judged_once_per_scope_on_its_strata() -> None:
    gates = {g.name: g.strata for g in judged_gates(ANALYSIS, STRATA, Scopes.of([capability()]))}
    assert gates == {
        "text": ["signs", "plain"],  # an OCR gate skips plain, which has no text
        "errors": ["signs", "plain"],
        "typography.text": ["typography", "logos"],
        "typography.errors": ["typography", "logos"],
    }


def test_a_specialist_capabilitys_strata_are_judged_nowhere() -> None:
    specialist = capability(target="service", service="typo-specialist")
    names = {g.name: g.strata for g in judged_gates(ANALYSIS, STRATA, Scopes.of([specialist]))}
    assert names == {"text": ["signs", "plain"], "errors": ["signs", "plain"]}


def test_a_capability_failure_rolls_back_unless_it_may_be_pinned() -> None:
    outcome, verdicts = run(Scopes.of([capability()]))
    assert outcome == Outcome.ROLLBACK
    assert verdicts["typography.text/logos"] == Verdict.FAIL

    pinned = Scopes.of([capability()], pinnable=["typography"])
    outcome, verdicts = run(pinned)
    assert outcome == Outcome.PROMOTE, verdicts
    assert verdicts["typography.text/logos"] == Verdict.FAIL
    assert verdicts["text"] == Verdict.PASS


def test_failures_name_the_capability_and_the_stratum() -> None:
    pinned = Scopes.of([capability()], pinnable=["typography"])
    gates, state = judged_gates(ANALYSIS, STRATA, pinned), AnalysisState()
    good, bad = ArmScores(ok=True, text_passed=True), ArmScores(ok=True, text_passed=False)
    for _ in range(40):
        state = record(state, gates, PairScores("logos", True, good, bad))
    results, _ = evaluate(ANALYSIS, state, STRATA, 2000, pinned)
    failed = pinned.failures(results)
    assert list(failed) == ["typography"]
    assert told(failed["typography"]) == "text/logos failed: canary 0.00 vs baseline 1.00"


def test_names_split_into_scope_and_the_users_gate() -> None:
    assert (scope_of("typography.text/logos"), unscoped("typography.text/logos")) == (
        "typography",
        "text/logos",
    )
    assert (scope_of("text/logos"), unscoped("text/logos")) == ("", "text/logos")
    assert Scopes.of([capability()]).unknown_strata(["typography"]) == ["logos"]
