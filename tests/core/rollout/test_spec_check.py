"""What CEL cannot check (PromQL syntax) sets InvalidSpec before any traffic moves.

The CRD refuses most bad gates at admission; these specs get past it (or were stored before
the rules existed), and decide() must hold them with a message and a Warning event.
"""

from __future__ import annotations

from typing import Any

import pytest

from imagerollout.api.metric_gates import MetricsAnalysis
from imagerollout.api.v1alpha1 import Phase, RolloutSpec
from imagerollout.core import reasons as R
from imagerollout.core.rollout.actions import EnsurePrimary, SetWeight
from imagerollout.core.rollout.conditions import find
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.spec_check import promql_problem, spec_problem
from tests.core.builders import (
    CANARY,
    CANARY_IMAGE,
    SPEC,
    STABLE,
    STABLE_IMAGE,
    STABLE_REV,
    at,
    condition_of,
    deployment,
    initialized,
    make_obs,
    make_status,
    primary,
    reasons,
    rolling,
    stamp,
    warnings,
    weights,
)

GOOD_QUERY = 'sum(rate(my_bad_total{namespace="{{namespace}}",service="{{service}}"}[{{window}}]))'
COUNT_QUERY = 'sum(increase(my_requests_total{service="{{service}}"}[{{window}}]))'


def with_gates(*gates: dict[str, Any]) -> RolloutSpec:
    manifest = {
        "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090"}},
        "gates": list(gates),
    }
    return SPEC.model_copy(update={"metrics": MetricsAnalysis.model_validate(manifest)})


def custom(query: str, **fields: Any) -> dict[str, Any]:
    return {"name": "custom", "query": query, "threshold": {"max": "0.5"}, **fields}


BROKEN = with_gates({"name": "errors", "template": "ErrorRate"}, custom("sum(rate(x[5m])"))
PROBLEM = "spec.metrics.gates[1] (custom): query 'sum(rate(x[5m])': '(' at column 4 is never closed"


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        pytest.param('sum(rate(x{namespace="ns"}[30s]))', None, id="rendered"),
        pytest.param('x{a="b)"} # (comment', None, id="brackets-in-strings-and-comments"),
        pytest.param(r'x{a="\"("}', None, id="escaped-quote"),
        pytest.param("sum by (le) (rate(x[5m:1m]))", None, id="subquery"),
        pytest.param("sum(rate(x[5m])", "'(' at column 4 is never closed", id="open-paren"),
        pytest.param("sum(x))", "unexpected ')' at column 7", id="extra-paren"),
        pytest.param("x[5m}", "unexpected '}' at column 5", id="crossed"),
        pytest.param('x{a="b}', "unterminated string literal", id="unterminated"),
        pytest.param("x{{a}", "{{ at column 2 is not a template variable", id="malformed-var"),
        pytest.param("   ", "the query is empty", id="blank"),
    ],
)
def test_promql_problem(query: str, problem: str | None) -> None:
    found = promql_problem(query)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("gate", "problem"),
    [
        pytest.param(
            custom("rate(x{a=~{{reason}}}[{{window}}])", args={"reason": "a|b"}),
            "{{reason}} = 'a|b' may only be used inside quotes",
            id="arg-outside-quotes",
        ),
        pytest.param(
            custom("x{a='{{namesapce}}'}"),
            "unknown variable {{namesapce}}",
            id="unknown-variable-stored-before-the-cel-rule",
        ),
        pytest.param(
            custom("x", args={"window": "5m"}),
            "args may not redefine window",
            id="arg-redefines-window",
        ),
        pytest.param(
            {"name": "custom", "errorsQuery": "sum(x", "countQuery": COUNT_QUERY},
            "errorsQuery 'sum(x': '(' at column 4 is never closed",
            id="errors-query",
        ),
        pytest.param(
            {"name": "custom", "errorsQuery": GOOD_QUERY, "countQuery": "sum(y{{service})"},
            "countQuery 'sum(y{{service})': {{ at column 6 is not a template variable",
            id="count-query-with-a-brace-missing",
        ),
    ],
)
def test_spec_problem_names_gate_field_and_problem(gate: dict[str, Any], problem: str) -> None:
    found = spec_problem(with_gates(gate))

    assert found is not None
    assert found.startswith("spec.metrics.gates[0] (custom): ")
    assert problem in found


def test_valid_gates_have_no_problem() -> None:
    spec = with_gates(
        {"name": "errors", "template": "ErrorRate"},
        {"name": "slow", "template": "SlowRequests", "args": {"le": "2.5"}},
        {"name": "decoder", "template": "DecoderFailures", "args": {"reason": 'a"b'}},
        {"name": "p95", "template": "LatencyP95", "maxDegradation": "0.25"},
        custom(GOOD_QUERY, countQuery=COUNT_QUERY),
        {"name": "rate", "errorsQuery": GOOD_QUERY, "countQuery": COUNT_QUERY},
    )
    assert spec_problem(spec) is None
    assert spec_problem(SPEC) is None


def test_no_rollout_starts_while_the_spec_is_invalid() -> None:
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=0)
    decision = decide(BROKEN, initialized(), obs, at(0))

    assert decision.actions == ()
    assert decision.status.canary is None
    assert decision.status.phase == Phase.DEGRADED
    assert decision.status.message == f"invalid spec, traffic held: {PROBLEM}"
    assert condition_of(decision.status, R.INVALID_SPEC) == ("True", R.INVALID_SPEC)
    assert warnings(decision) == [R.INVALID_SPEC]
    assert decision.events[0].message == PROBLEM


def test_the_first_pass_reports_it_and_still_creates_the_primary() -> None:
    obs = make_obs(deployment(STABLE_IMAGE), None, route=None, services=False)
    decision = decide(BROKEN, make_status(), obs, at(0))

    assert EnsurePrimary({}, STABLE_REV, 2) in decision.actions
    assert weights(decision.actions) == []
    assert condition_of(decision.status, R.INVALID_SPEC) == ("True", R.INVALID_SPEC)
    assert warnings(decision) == [R.INVALID_SPEC]


def test_mid_rollout_the_weight_is_held() -> None:
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=25)
    decision = decide(BROKEN, rolling(1, 25, step_started_at=stamp(at(-600))), obs, at(0))

    assert decision.actions == ()
    assert (decision.status.phase, decision.status.canary_weight) == (Phase.PROGRESSING, 25)
    assert decision.status.current_step_index == 1
    assert PROBLEM in decision.status.message


def test_the_warning_is_posted_once_and_the_transition_time_kept() -> None:
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=0)
    first = decide(BROKEN, initialized(), obs, at(0))
    second = decide(BROKEN, first.status, obs, at(60))

    assert reasons(second) == []
    before = find(list(first.status.conditions), R.INVALID_SPEC)
    after = find(list(second.status.conditions), R.INVALID_SPEC)
    assert before is not None
    assert after is not None
    assert after.last_transition_time == before.last_transition_time == stamp(at(0))


def test_an_abort_still_takes_traffic_off_the_canary() -> None:
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=25)
    status = rolling(1, 25, abort=True, step_started_at=stamp(at(-60)))
    decision = decide(BROKEN, status, obs, at(0))

    assert weights(decision.actions) == [0]
    assert decision.status.phase == Phase.DEGRADED


def test_reverting_the_target_still_returns_to_the_stable_revision() -> None:
    obs = make_obs(deployment(STABLE_IMAGE), primary(), route=25)
    decision = decide(BROKEN, rolling(1, 25), obs, at(0))

    assert weights(decision.actions) == [0]
    assert decision.status.canary is None
    assert decision.status.stable == STABLE


def test_once_fixed_the_rollout_starts() -> None:
    obs = make_obs(deployment(CANARY_IMAGE), primary(), route=0)
    held = decide(BROKEN, initialized(), obs, at(0))
    fixed = with_gates({"name": "errors", "template": "ErrorRate"})
    decision = decide(fixed, held.status, obs, at(30))

    assert SetWeight(5) in decision.actions
    assert decision.status.canary == CANARY
    assert decision.status.phase == Phase.PROGRESSING
    assert condition_of(decision.status, R.INVALID_SPEC) == ("False", R.SPEC_VALID)
    assert R.ROLLOUT_STARTED in reasons(decision)
