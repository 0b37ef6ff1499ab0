from __future__ import annotations

from imagerollout.core import reasons as R
from imagerollout.core.rollout.actions import Decision
from imagerollout.core.rollout.failures import action_failed, actions_applied
from tests.core.builders import NOW, at, condition_of, reasons, rolling, warnings

QUOTA = 'services "imagegen-canary" is forbidden: exceeded quota: services, requested: 1'


def test_a_refused_action_sets_action_failed_with_the_api_message_and_warns_once() -> None:
    before = rolling(0, 5)
    first = action_failed(before, NOW, 1, "EnsureServices", QUOTA)

    assert condition_of(first.status, R.ACTION_FAILED) == ("True", R.ACTION_REJECTED)
    message = f"EnsureServices: {QUOTA}"
    assert [c.message for c in first.status.conditions if c.type == R.ACTION_FAILED] == [message]
    assert (reasons(first), warnings(first)) == ([R.ACTION_REJECTED], [R.ACTION_REJECTED])
    assert first.status.current_step_index == before.current_step_index
    assert first.status.phase == before.phase

    again = action_failed(first.status, at(5), 1, "EnsureServices", QUOTA)
    assert reasons(again) == [], "the same error is not posted twice"
    other = action_failed(first.status, at(5), 1, "EnsureServices", "admission webhook denied")
    assert reasons(other) == [R.ACTION_REJECTED], "a different error is"


def test_a_pass_whose_actions_all_went_through_resolves_action_failed() -> None:
    failed = action_failed(rolling(0, 5), NOW, 1, "EnsureServices", QUOTA)
    resolved = actions_applied(Decision(failed.status), at(1), 1)
    assert condition_of(resolved.status, R.ACTION_FAILED) == ("False", R.ACTIONS_APPLIED)

    untouched = Decision(rolling(0, 5))
    assert actions_applied(untouched, at(1), 1) is untouched
