"""One window of one production-traffic gate: Inconclusive on bad data, breaches, count tests."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pytest

from imagerollout.api.metric_gates import MetricGate, MetricGateStatus
from imagerollout.core.judge import Verdict
from imagerollout.core.judge.counts import CountWindow, accumulate, e_value
from imagerollout.core.metrics.windows import ArmReading, GateReading, WindowResult, judge_window

STALE_AFTER = 120.0
ALPHA = 0.05
NAN, INF = math.nan, math.inf
NOW = "2026-11-27T12:00:00Z"


def gate(**fields: Any) -> MetricGate:
    """A gate parsed from a camelCase manifest, as the operator reads it."""
    return MetricGate.model_validate({"name": "g", **fields})


LATENCY = gate(template="LatencyP95", maxDegradation="0.05")
CAPPED = gate(template="LatencyP99", threshold={"max": "2"})
ERRORS = gate(template="ErrorRate")
CUSTOM = gate(query="avg(x)", threshold={"min": "0.5"})
CUSTOM_COUNTS = gate(errorsQuery="sum(e)", countQuery="sum(n)")


def arm(value: float | None, count: float | None = 500, age: float | None = 5) -> ArmReading:
    return ArmReading(value=value, count=count, age=age)


def reading(canary: ArmReading, baseline: ArmReading, error: str | None = None) -> GateReading:
    return GateReading("g", canary=canary, baseline=baseline, error=error)


def fresh() -> MetricGateStatus:
    return MetricGateStatus(gate="g", verdict="")


def judge(g: MetricGate, r: GateReading, before: MetricGateStatus | None = None) -> WindowResult:
    return judge_window(g, r, before or fresh(), STALE_AFTER, ALPHA, NOW)


def round_trip(status: MetricGateStatus) -> MetricGateStatus:
    """The status as the next reconcile reads it back from the cluster."""
    return MetricGateStatus.model_validate(status.model_dump(by_alias=True, mode="json"))


# --- Missing or bad data: Inconclusive, data_problem ---------------------------------------

OK = arm(0.5)


@dataclass(frozen=True)
class Bad:
    gate: MetricGate
    reading: GateReading
    reason: str


BAD_DATA = [
    pytest.param(
        Bad(LATENCY, reading(OK, OK, error="connection refused"), "connection refused"),
        id="provider-error",
    ),
    pytest.param(
        Bad(ERRORS, reading(arm(1), arm(4), error="bad_data: parse error"), "bad_data"),
        id="provider-error-count-gate",
    ),
    pytest.param(
        Bad(LATENCY, reading(arm(0.5, count=None), OK), "no canary requests in the window"),
        id="canary-count-empty",
    ),
    pytest.param(
        Bad(LATENCY, reading(OK, arm(0.5, count=None)), "no baseline requests in the window"),
        id="baseline-count-empty",
    ),
    pytest.param(
        Bad(ERRORS, reading(arm(None, count=None), arm(3)), "no canary requests"),
        id="count-gate-count-empty",
    ),
    pytest.param(
        Bad(LATENCY, reading(arm(0.5, count=NAN), OK), "canary request count is nan"),
        id="count-nan",
    ),
    pytest.param(
        Bad(ERRORS, reading(arm(1), arm(2, count=INF)), "baseline request count is inf"),
        id="count-inf",
    ),
    pytest.param(
        Bad(
            LATENCY,
            reading(arm(0.5, age=300), OK),
            "newest canary sample is 300s old (staleAfter 120s)",
        ),
        id="canary-stale",
    ),
    pytest.param(
        Bad(ERRORS, reading(arm(1), arm(2, age=121)), "newest baseline sample is 121s old"),
        id="baseline-stale-count-gate",
    ),
    pytest.param(
        Bad(LATENCY, reading(arm(0.5, age=NAN), OK), "newest canary sample"),
        id="age-nan",
    ),
    pytest.param(
        Bad(LATENCY, reading(arm(None), OK), "empty result for the canary"),
        id="canary-value-empty",
    ),
    pytest.param(
        Bad(LATENCY, reading(OK, arm(None)), "empty result for the baseline"),
        id="baseline-value-empty",
    ),
    pytest.param(
        Bad(CUSTOM, reading(ArmReading(), ArmReading()), "empty result for the canary"),
        id="custom-query-empty",
    ),
    pytest.param(
        Bad(LATENCY, reading(arm(NAN), OK), "canary value is nan"),
        id="value-nan",
    ),
    pytest.param(
        Bad(LATENCY, reading(OK, arm(-INF)), "baseline value is -inf"),
        id="value-inf",
    ),
    pytest.param(
        Bad(CAPPED, reading(arm(INF), ArmReading()), "canary value is inf"),
        id="threshold-value-inf",
    ),
    pytest.param(
        Bad(ERRORS, reading(arm(NAN), arm(2)), "canary error count is nan"),
        id="error-count-nan",
    ),
]


@pytest.mark.parametrize("bad", BAD_DATA)
def test_bad_data_is_inconclusive(bad: Bad) -> None:
    before = fresh().model_copy(update={"windows": 1, "failures": 0})
    result = judge(bad.gate, bad.reading, before)
    assert result.data_problem
    assert result.status.verdict == Verdict.INCONCLUSIVE.value
    assert bad.reason in result.status.reason
    assert result.status.windows == 1  # only conclusive windows count
    assert result.status.failures == 0


def test_threshold_only_gates_do_not_need_the_baseline() -> None:
    result = judge(CAPPED, reading(arm(1.5), ArmReading()))
    assert result == WindowResult(
        MetricGateStatus(
            gate="g",
            verdict="Pass",
            reason="canary 1.5",
            canary="1.5",
            bound="[-inf, 2]",
            canary_count=500,
            windows=1,
            window_start=NOW,
        ),
        False,
    )


# --- Value gates ----------------------------------------------------------------------------


def test_value_within_max_degradation_passes() -> None:
    result = judge(LATENCY, reading(arm(0.52, count=321.7), arm(0.5, count=4000)))
    assert not result.data_problem
    status = result.status
    assert (status.verdict, status.windows, status.failures) == ("Pass", 1, 0)
    assert (status.canary, status.baseline, status.bound) == ("0.52", "0.5", "0.55")
    assert (status.canary_count, status.baseline_count) == (322, 4000)


def test_value_breach_fails_at_once_with_failure_limit_zero() -> None:
    result = judge(LATENCY, reading(arm(0.7), arm(0.5)))
    assert not result.data_problem
    assert result.status.verdict == Verdict.FAIL.value
    assert result.status.reason == "canary 0.7 > baseline 0.5 + 0.05"
    assert (result.status.failures, result.status.windows) == (1, 0)


def test_tolerated_breach_is_inconclusive_then_the_next_one_fails() -> None:
    tolerant = gate(template="LatencyP95", maxDegradation="0.05", failureLimit=1)
    breach = reading(arm(0.7), arm(0.5))
    first = judge(tolerant, breach)
    assert not first.data_problem  # a breach is a finding, not missing data
    assert first.status.verdict == Verdict.INCONCLUSIVE.value
    assert "(breach 1, failureLimit 1)" in first.status.reason
    assert (first.status.failures, first.status.windows) == (1, 0)
    # a good window in between neither clears the breach count nor fails
    passed = judge(tolerant, reading(arm(0.5), arm(0.5)), round_trip(first.status))
    assert (passed.status.verdict, passed.status.failures, passed.status.windows) == ("Pass", 1, 1)
    second = judge(tolerant, breach, round_trip(passed.status))
    assert second.status.verdict == Verdict.FAIL.value
    assert second.status.failures == 2
    assert not second.data_problem


THRESHOLDS = [
    pytest.param({"max": "2"}, 1.99, "Pass", "[-inf, 2]", id="below-max"),
    pytest.param({"max": "2"}, 2.0, "Pass", "[-inf, 2]", id="at-max"),
    pytest.param({"max": "2"}, 2.01, "Fail", "[-inf, 2]", id="above-max"),
    pytest.param({"min": "0.9"}, 0.95, "Pass", "[0.9, inf]", id="above-min"),
    pytest.param({"min": "0.9"}, 0.9, "Pass", "[0.9, inf]", id="at-min"),
    pytest.param({"min": "0.9"}, 0.85, "Fail", "[0.9, inf]", id="below-min"),
    pytest.param({"min": "0", "max": "1"}, 0.0, "Pass", "[0, 1]", id="zero-min"),
    pytest.param({"min": "0", "max": "1"}, -0.1, "Fail", "[0, 1]", id="both-below"),
    pytest.param({"min": "0", "max": "1"}, 1.1, "Fail", "[0, 1]", id="both-above"),
]


@pytest.mark.parametrize(("threshold", "canary", "verdict", "bound"), THRESHOLDS)
def test_threshold(threshold: dict[str, str], canary: float, verdict: str, bound: str) -> None:
    g = gate(template="CostPerImage", threshold=threshold)
    result = judge(g, reading(arm(canary), ArmReading()))
    assert (result.status.verdict, result.status.bound) == (verdict, bound)
    if verdict == "Fail":
        assert "threshold" in result.status.reason


def test_threshold_is_checked_alongside_max_degradation() -> None:
    g = gate(template="LatencyP95", maxDegradation="1", threshold={"max": "2"})
    result = judge(g, reading(arm(2.5), arm(2.0)))
    assert result.status.verdict == Verdict.FAIL.value
    assert result.status.reason == "canary 2.5 > threshold max 2"
    assert result.status.bound == "3"


def test_windows_count_only_passes() -> None:
    tolerant = gate(template="LatencyP95", maxDegradation="0.05", failureLimit=5)
    sequence = [
        (reading(arm(0.5), arm(0.5)), "Pass", 1),
        (reading(arm(0.5, count=3), arm(0.5)), "Inconclusive", 1),  # too few requests
        (reading(arm(0.9), arm(0.5)), "Inconclusive", 1),  # tolerated breach
        (reading(OK, OK, error="timeout"), "Inconclusive", 1),
        (reading(arm(0.51), arm(0.5)), "Pass", 2),
    ]
    status = fresh()
    for r, verdict, windows in sequence:
        status = round_trip(judge(tolerant, r, status).status)
        assert (status.verdict, status.windows) == (verdict, windows)


# --- Count gates ----------------------------------------------------------------------------


def test_equal_error_rates_pass() -> None:
    result = judge(ERRORS, reading(arm(2, count=100), arm(38, count=1900)))
    status = result.status
    assert (status.verdict, status.windows, result.data_problem) == ("Pass", 1, False)
    assert (status.canary, status.baseline, status.bound) == ("0.02", "0.02", "x1")
    assert status.reason.startswith("e-value ")
    assert len(status.evidence) == 5


def test_no_errors_at_all_pass_without_evidence() -> None:
    result = judge(CUSTOM_COUNTS, reading(arm(None, count=50), arm(None, count=950)))
    assert result.status.verdict == Verdict.PASS.value
    assert result.status.evidence == [0.0] * 5
    assert (result.status.canary, result.status.baseline) == ("0", "0")


def test_errors_concentrated_on_the_canary_fail_within_a_few_windows() -> None:
    # 5% of requests, ~17% of the errors: each window alone is weak evidence
    window = reading(arm(2, count=50), arm(10, count=950))
    status, verdicts = fresh(), []
    for _ in range(8):
        result = judge(ERRORS, window, status)
        status = round_trip(result.status)
        verdicts.append(status.verdict)
        if status.verdict == "Fail":
            break
    assert verdicts[0] == "Pass"
    assert verdicts[-1] == "Fail"
    assert 2 <= len(verdicts) <= 6
    assert "above 1x the baseline's" in status.reason
    assert "e-value" in status.reason
    assert e_value(status.evidence) >= 1 / ALPHA
    assert status.failures == 0  # a rejected rate test fails whatever failureLimit says


def test_max_ratio_tolerates_the_same_errors() -> None:
    lenient = gate(template="DecoderFailures", maxRatio="5")
    window = reading(arm(2, count=50), arm(10, count=950))
    status = fresh()
    for _ in range(8):
        status = round_trip(judge(lenient, window, status).status)
    assert status.verdict == Verdict.PASS.value
    assert status.bound == "x5"
    assert status.windows == 8


def test_count_evidence_accumulates_across_calls() -> None:
    first_reading = reading(arm(3, count=60), arm(10, count=940))
    second_reading = reading(arm(0, count=80), arm(9, count=920))
    first = judge(CUSTOM_COUNTS, first_reading).status
    expected = accumulate([], CountWindow(3, 60, 10, 940), 1.0)
    assert first.evidence == pytest.approx(expected)
    second = judge(CUSTOM_COUNTS, second_reading, round_trip(first)).status
    expected = accumulate(expected, CountWindow(0, 80, 9, 920), 1.0)
    assert second.evidence == pytest.approx(expected)
    assert second.windows == 2


@pytest.mark.parametrize(
    ("g", "low", "why"),
    [
        pytest.param(
            LATENCY,
            reading(arm(0.5, count=19), OK),
            "collecting: 19 canary requests in 30s, minCount is 20",
            id="canary-below-min-count",
        ),
        pytest.param(
            gate(template="ErrorRate", minCount=100),
            reading(arm(0, count=150), arm(0, count=99)),
            "collecting: 99 baseline requests in 30s, minCount is 100",
            id="baseline-below-min-count",
        ),
        pytest.param(
            CUSTOM_COUNTS,
            reading(arm(4, count=0), arm(1, count=900)),
            "collecting: 0 canary requests in 30s, minCount is 20",
            id="custom-count-query-zero",
        ),
        pytest.param(
            LATENCY,
            reading(arm(NAN, count=3), OK),
            "collecting: 3 canary requests in 30s, minCount is 20",
            id="too-few-for-a-quantile",  # histogram_quantile is NaN on no requests
        ),
    ],
)
def test_too_few_requests_keep_the_window_open(g: MetricGate, low: GateReading, why: str) -> None:
    before = fresh().model_copy(update={"evidence": [0.5] * 5, "window_start": "earlier"})
    result = judge(g, replace(low, window_seconds=30), before)
    assert result.status.verdict == Verdict.INCONCLUSIVE
    assert result.status.reason == why
    assert not result.data_problem, "low traffic is not a fault; the window just grows"
    assert result.status.window_start == "earlier", "the next query covers more time"
    assert result.status.evidence == [0.5] * 5, "counted once, when the window closes"
    assert result.status.windows == 0


def test_a_conclusive_window_closes_and_the_next_starts_now() -> None:
    before = fresh().model_copy(update={"window_start": "earlier"})
    assert judge(LATENCY, reading(OK, OK), before).status.window_start == NOW
    assert judge(ERRORS, reading(arm(1), arm(2)), before).status.window_start == NOW
    broken = judge(LATENCY, reading(OK, OK, error="timeout"), before)
    assert broken.status.window_start == "earlier", "missing data leaves the window open"


@pytest.mark.parametrize(
    "bad",
    [
        reading(arm(4), arm(1), error="timeout"),
        reading(arm(4, count=None), arm(1)),
        reading(arm(4, count=NAN), arm(1)),
        reading(arm(NAN), arm(1)),
    ],
    ids=["provider-error", "count-missing", "count-nan", "errors-nan"],
)
def test_unusable_count_windows_add_no_evidence(bad: GateReading) -> None:
    before = fresh().model_copy(update={"evidence": [0.5] * 5})
    result = judge(ERRORS, bad, before)
    assert result.data_problem
    assert result.status.evidence == [0.5] * 5


def test_count_gate_threshold_on_the_canary_rate() -> None:
    capped = gate(template="ErrorRate", threshold={"max": "0.01"})
    result = judge(capped, reading(arm(2, count=100), arm(38, count=1900)))
    assert result.status.verdict == Verdict.FAIL.value
    assert result.status.reason == "canary 0.02 > threshold max 0.01"


def test_an_empty_errors_result_is_no_errors_except_for_slow_requests() -> None:
    no_series = reading(arm(None), arm(None))
    assert judge(ERRORS, no_series).status.verdict == Verdict.PASS, "no 5xx series yet"
    slow = gate(template="SlowRequests", args={"le": "1"})  # "1" is not a bucket: "1.0" is
    result = judge(slow, no_series)
    assert result.data_problem
    assert (
        result.status.reason
        == "empty result for the canary's bad events (check the query's labels)"
    )
