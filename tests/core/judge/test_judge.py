"""The overall judge, alpha splitting, and the purity of the judge package."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import imagerollout.core.judge as judge_pkg
from imagerollout.core.judge import GateResult, Outcome, Verdict, judge, split_alpha


def gate(verdict: Verdict) -> GateResult:
    return GateResult("g", verdict, 10, 0.9, 0.9, 0.0, -0.1, 0.1, "r")


P, F, U = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE  # U: undecided


@pytest.mark.parametrize(
    ("verdicts", "samples", "expected"),
    [
        pytest.param([P, P], 50, Outcome.PROMOTE, id="all-pass"),
        pytest.param([P, F], 50, Outcome.ROLLBACK, id="any-fail"),
        pytest.param([U, F], 5000, Outcome.ROLLBACK, id="fail-beats-budget"),
        pytest.param([P, U], 50, Outcome.CONTINUE, id="waiting"),
        pytest.param([P, U], 2000, Outcome.INCONCLUSIVE, id="budget-spent"),
        pytest.param([P, P], 5000, Outcome.PROMOTE, id="pass-at-budget"),
        pytest.param([], 0, Outcome.PROMOTE, id="no-gates"),
    ],
)
def test_outcomes(verdicts: list[Verdict], samples: int, expected: Outcome) -> None:
    assert judge([gate(v) for v in verdicts], samples, 2000) is expected


@given(st.lists(st.sampled_from(list(Verdict))), st.integers(0, 3000))
def test_outcome_rules(verdicts: list[Verdict], samples: int) -> None:
    outcome = judge([gate(v) for v in verdicts], samples, 2000)
    assert (outcome is Outcome.ROLLBACK) == (F in verdicts)
    assert (outcome is Outcome.PROMOTE) == all(v is P for v in verdicts)
    if outcome is Outcome.CONTINUE:
        assert samples < 2000


@given(st.lists(st.sampled_from([P, U])), st.integers(0, 3000))
def test_a_new_fail_always_rolls_back(verdicts: list[Verdict], samples: int) -> None:
    assert judge([gate(v) for v in [*verdicts, F]], samples, 2000) is Outcome.ROLLBACK


def test_split_alpha_is_bonferroni() -> None:
    assert split_alpha(0.05, 4) == pytest.approx(0.0125)
    assert split_alpha(0.05, 1) == 0.05


@pytest.mark.parametrize(("total", "gates"), [(0.0, 2), (1.0, 2), (0.05, 0)])
def test_split_alpha_rejects_nonsense(total: float, gates: int) -> None:
    with pytest.raises(ValueError, match=r"alpha|gate"):
        split_alpha(total, gates)


def test_results_and_verdicts_serialise_to_plain_json() -> None:
    text = json.dumps(dataclasses.asdict(gate(P)), allow_nan=False)
    assert json.loads(text)["verdict"] == "Pass"
    assert json.dumps(Outcome.ROLLBACK) == '"Rollback"'


def test_the_judge_imports_only_the_standard_library_and_itself() -> None:
    allowed = {"__future__", "math", "dataclasses", "enum", "functools", "collections", "typing"}
    package = Path(judge_pkg.__file__).parent
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                ok = top in allowed or name.startswith("imagerollout.core.judge")
                assert ok, f"{source.name} imports {name}"
