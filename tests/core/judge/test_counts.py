"""The sequential rate-ratio test on error counts: per-window evidence, and its error rates."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from imagerollout.core.judge.counts import (
    ALTERNATIVES,
    CountWindow,
    accumulate,
    e_value,
    rejects,
    window_log_ratios,
)

ZERO = tuple(0.0 for _ in ALTERNATIVES)


@pytest.mark.parametrize(
    "window",
    [
        CountWindow(0, 50, 0, 950),
        CountWindow(0.4, 50, 0.3, 950),  # increase() extrapolates: rounds to no errors
        CountWindow(3, 0, 7, 950),  # no canary requests: no split to learn from
        CountWindow(3, 50, 7, 0),
    ],
    ids=["no-errors", "fractional-zero", "no-canary-requests", "no-baseline-requests"],
)
def test_window_without_information_is_neutral(window: CountWindow) -> None:
    assert window_log_ratios(window, 1.0) == ZERO


def test_errors_all_on_a_small_canary_are_evidence_against_it() -> None:
    window = CountWindow(
        canary_errors=4, canary_requests=50, baseline_errors=0, baseline_requests=950
    )
    ratios = window_log_ratios(window, 1.0)
    assert all(r > 0 for r in ratios)
    # the exact conditional-binomial likelihood ratio: p0 = 5%, p1 = r * 50 / (r * 50 + 950)
    for multiple, ratio in zip(ALTERNATIVES, ratios, strict=True):
        p1 = multiple * 50 / (multiple * 50 + 950)
        assert ratio == pytest.approx(4 * math.log(p1 / 0.05))
    assert list(ratios) == sorted(ratios)  # with every error on the canary, bigger r fits better


def test_errors_all_on_the_baseline_are_evidence_for_the_canary() -> None:
    ratios = window_log_ratios(CountWindow(0, 500, 12, 500), 1.0)
    assert all(r < 0 for r in ratios)


def test_a_split_exactly_at_max_ratio_lowers_the_evidence() -> None:
    # canary share of requests 20%, max_ratio 2: the tolerated share of errors is 1/3
    ratios = window_log_ratios(CountWindow(10, 200, 20, 800), 2.0)
    assert all(r < 0 for r in ratios)


def test_a_higher_max_ratio_tolerates_more() -> None:
    window = CountWindow(6, 100, 10, 900)
    strict, lenient = window_log_ratios(window, 1.0), window_log_ratios(window, 3.0)
    assert all(s > t for s, t in zip(strict, lenient, strict=True))


def test_fractional_counts_are_rounded() -> None:
    assert window_log_ratios(CountWindow(2.6, 50, 0.2, 950), 1.0) == window_log_ratios(
        CountWindow(3, 50, 0, 950), 1.0
    )


def test_accumulate_adds_windows() -> None:
    first, second = CountWindow(3, 50, 2, 950), CountWindow(0, 80, 9, 920)
    one = accumulate([], first, 1.0)
    assert one == pytest.approx(list(window_log_ratios(first, 1.0)))
    two = accumulate(one, second, 1.0)
    step = window_log_ratios(second, 1.0)
    assert two == pytest.approx([a + b for a, b in zip(one, step, strict=True)])
    assert accumulate(two, CountWindow(0, 50, 0, 950), 1.0) == two


def test_accumulate_restarts_evidence_of_another_shape() -> None:
    window = CountWindow(3, 50, 2, 950)
    assert accumulate([9.0, 9.0], window, 1.0) == accumulate([], window, 1.0)


def test_e_value() -> None:
    assert e_value([]) == 1.0
    assert e_value(list(ZERO)) == pytest.approx(1.0)
    evidence = [math.log(x) for x in (1.0, 2.0, 3.0, 4.0, 40.0)]
    assert e_value(evidence) == pytest.approx(10.0)
    assert math.isfinite(e_value([1e6] * len(ALTERNATIVES)))  # capped, never overflows


def test_rejects_at_one_over_alpha() -> None:
    # mean of the likelihood ratios: (101 + 4 * e^-50) / 5 is just above 20 = 1 / 0.05
    assert rejects([math.log(101.0)] + [-50.0] * 4, 0.05)
    assert not rejects([math.log(99.0)] + [-50.0] * 4, 0.05)
    assert not rejects([], 0.05)


# --- Error rates by simulation --------------------------------------------------------------


def first_rejection(
    canary_errors: np.ndarray,
    canary_requests: np.ndarray,
    baseline_errors: np.ndarray,
    baseline_requests: np.ndarray,
    max_ratio: float,
    alpha: float,
) -> list[int | None]:
    """For each simulated rollout (row), the window at which the gate first rejects."""
    out: list[int | None] = []
    for row in range(canary_errors.shape[0]):
        evidence: list[float] = []
        found: int | None = None
        for col in range(canary_errors.shape[1]):
            window = CountWindow(
                float(canary_errors[row, col]),
                float(canary_requests[row, col]),
                float(baseline_errors[row, col]),
                float(baseline_requests[row, col]),
            )
            evidence = accumulate(evidence, window, max_ratio)
            if rejects(evidence, alpha):
                found = col
                break
        out.append(found)
    return out


ALPHA = 0.05
ROLLOUTS, WINDOWS = 2000, 30


def _null_margin() -> float:
    """Three binomial standard deviations of a rejection share estimated at alpha."""
    return 3 * math.sqrt(ALPHA * (1 - ALPHA) / ROLLOUTS)  # about 0.0146


def test_equal_error_rates_are_rejected_at_most_alpha_of_the_time() -> None:
    """H0, max_ratio 1: both arms fail 2% of requests; the canary's share of the ~800
    requests per window varies from 5% to 50%; the gate looks after every one of 30 windows."""
    started = time.perf_counter()
    rng = np.random.default_rng(20250601)
    total = rng.integers(400, 1200, size=(ROLLOUTS, WINDOWS))
    share = rng.uniform(0.05, 0.5, size=(ROLLOUTS, WINDOWS))
    n_c = np.maximum(np.rint(total * share), 1).astype(np.int64)
    n_b = total - n_c
    e_c, e_b = rng.binomial(n_c, 0.02), rng.binomial(n_b, 0.02)
    hits = first_rejection(e_c, n_c, e_b, n_b, 1.0, ALPHA)
    rate = sum(h is not None for h in hits) / ROLLOUTS
    assert rate <= ALPHA + _null_margin()
    assert time.perf_counter() - started < 5.0


def test_a_canary_at_exactly_max_ratio_is_rejected_at_most_alpha_of_the_time() -> None:
    """H0 on its boundary, max_ratio 2: Poisson errors at 1% (baseline) and 2% (canary) per
    request, so conditional on the total each error is the canary's with probability pi(2)."""
    rng = np.random.default_rng(7)
    total = rng.integers(400, 1200, size=(ROLLOUTS, WINDOWS))
    share = rng.uniform(0.05, 0.5, size=(ROLLOUTS, WINDOWS))
    n_c = np.maximum(np.rint(total * share), 1).astype(np.int64)
    n_b = total - n_c
    e_c, e_b = rng.poisson(0.02 * n_c), rng.poisson(0.01 * n_b)
    hits = first_rejection(e_c, n_c, e_b, n_b, 2.0, ALPHA)
    rate = sum(h is not None for h in hits) / ROLLOUTS
    assert rate <= ALPHA + _null_margin()


def test_a_canary_failing_five_times_as_often_is_caught_within_a_few_windows() -> None:
    """H1: baseline 2% errors on 760 requests per window, canary 10% on 40 (5% traffic).

    Each window then holds ~19 errors, ~4 of them the canary's where H0 expects ~1. The
    r = 5 alternative gains ~0.15 nats per error (KL of 21% against 5%), ~2.9 per window,
    so the mixture reaches 1/alpha = 20 (log-ratio ~4.6 for one of five alternatives) in
    about two windows on average: power within 30 windows is close to 1, and > 0.9 is a
    claim with a wide margin.
    """
    rollouts = 500
    rng = np.random.default_rng(3)
    n_c = np.full((rollouts, WINDOWS), 40)
    n_b = np.full((rollouts, WINDOWS), 760)
    e_c, e_b = rng.binomial(n_c, 0.10), rng.binomial(n_b, 0.02)
    hits = first_rejection(e_c, n_c, e_b, n_b, 1.0, ALPHA)
    caught = [h for h in hits if h is not None]
    assert len(caught) / rollouts > 0.9
    assert float(np.median(caught)) <= 5  # windows are 0-based: caught within ~6 windows
