from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerollout.core.rollout.pod_split import PodSplit, describe, split


@pytest.mark.parametrize(
    ("pods", "weight", "expected"),
    [
        (20, 10, PodSplit(18, 2)),
        (10, 5, PodSplit(9, 1)),  # a canary step always has a canary pod
        (10, 25, PodSplit(7, 3)),  # 2.5 rounds half up
        (10, 99, PodSplit(1, 9)),  # below 100% a primary pod stays
        (1, 50, PodSplit(1, 1)),  # one pod cannot be split: both arms get one
        (10, 0, PodSplit(10, 0)),
        (10, 100, PodSplit(0, 10)),
    ],
)
def test_split(pods: int, weight: int, expected: PodSplit) -> None:
    assert split(pods, weight) == expected


@given(st.integers(1, 200), st.integers(1, 99))
def test_a_partial_weight_keeps_both_arms_and_is_the_nearest_ratio(pods: int, weight: int) -> None:
    result = split(pods, weight)
    assert result.primary >= 1
    assert result.canary >= 1
    if pods >= 2 and 1 <= round(pods * weight / 100) <= pods - 1:
        assert abs(result.canary_percent - weight) <= 50 / pods + 1e-9


def test_describe_says_how_far_the_ratio_is_from_the_step() -> None:
    assert describe(PodSplit(18, 2), 10) == "2 canary of 20 pods is 10%"
    assert describe(PodSplit(1, 1), 5) == "1 canary of 2 pods is 50%, 45 points above the step's 5%"
    assert (
        describe(PodSplit(7, 3), 35) == "3 canary of 10 pods is 30%, 5 points below the step's 35%"
    )
