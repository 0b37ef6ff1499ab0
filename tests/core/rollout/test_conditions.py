"""Kubernetes-style conditions: lastTransitionTime moves only when the status flips."""

from __future__ import annotations

from imagerollout.api.v1alpha1 import Condition
from imagerollout.core import reasons as R
from imagerollout.core.rollout.conditions import find, set_condition

T0 = "2025-06-01T12:00:00Z"
T1 = "2025-06-01T12:05:00Z"


def ready(status: str = "True", reason: str = R.PRIMARY_AVAILABLE) -> Condition:
    return Condition(
        type=R.AVAILABLE,
        status=status,
        reason=reason,
        message="old",
        last_transition_time=T0,
        observed_generation=1,
    )


PAUSED = Condition(type=R.PAUSED, status="False", reason=R.ROLLOUT_RESUMED, last_transition_time=T0)


def test_new_condition_is_appended_with_now() -> None:
    result = set_condition([PAUSED], R.AVAILABLE, True, R.PRIMARY_AVAILABLE, "up", T1, 3)

    assert result == [
        PAUSED,
        Condition(
            type=R.AVAILABLE,
            status="True",
            reason=R.PRIMARY_AVAILABLE,
            message="up",
            last_transition_time=T1,
            observed_generation=3,
        ),
    ]


def test_unchanged_status_keeps_last_transition_time() -> None:
    result = set_condition([ready()], R.AVAILABLE, True, R.INITIALIZED, "new message", T1, 2)

    assert result == [
        Condition(
            type=R.AVAILABLE,
            status="True",
            reason=R.INITIALIZED,
            message="new message",
            last_transition_time=T0,
            observed_generation=2,
        )
    ]


def test_flipped_status_moves_last_transition_time() -> None:
    result = set_condition([ready()], R.AVAILABLE, False, R.PRIMARY_UNAVAILABLE, "down", T1, 2)

    assert [(c.status, c.reason, c.last_transition_time) for c in result] == [
        ("False", R.PRIMARY_UNAVAILABLE, T1)
    ]


def test_unknown_to_true_counts_as_a_flip() -> None:
    result = set_condition([ready("Unknown")], R.AVAILABLE, True, R.PRIMARY_AVAILABLE, "", T1, 2)

    assert result[0].last_transition_time == T1


def test_other_conditions_and_their_order_are_kept() -> None:
    before = [ready(), PAUSED]

    result = set_condition(before, R.AVAILABLE, False, R.PRIMARY_UNAVAILABLE, "", T1, None)

    assert [c.type for c in result] == [R.AVAILABLE, R.PAUSED]
    assert result[1] is PAUSED
    assert before[0] == ready()  # the input list is not changed


def test_find() -> None:
    conditions = [ready(), PAUSED]

    assert find(conditions, R.PAUSED) is PAUSED
    assert find(conditions, R.PROMOTED) is None
