"""An action the API server refused: status and events say so, once per distinct error."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from imagerollout.api.v1alpha1 import RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.durations import format_time
from imagerollout.core.rollout.actions import Decision
from imagerollout.core.rollout.conditions import find, set_condition
from imagerollout.core.rollout.draft import Draft


def action_failed(
    status: RolloutStatus, now: datetime, generation: int | None, what: str, error: str
) -> Decision:
    """The status before the pass, with ActionFailed; a Warning event when the error is new.

    Nothing else of the pass is recorded: the next pass decides again from what it sees.
    """
    d = Draft(status, now, generation)
    message = f"{what}: {error}"
    before = find(status.conditions, R.ACTION_FAILED)
    if before is None or before.status != "True" or before.message != message:
        d.event(R.ACTION_REJECTED, message, warning=True)
    d.condition(R.ACTION_FAILED, True, R.ACTION_REJECTED, message)
    return d.done()


def actions_applied(decision: Decision, now: datetime, generation: int | None) -> Decision:
    """Every action of a pass went through: an earlier ActionFailed is resolved."""
    conditions = decision.status.conditions
    failed = find(conditions, R.ACTION_FAILED)
    if failed is None or failed.status != "True":
        return decision
    resolved = set_condition(
        list(conditions),
        R.ACTION_FAILED,
        False,
        R.ACTIONS_APPLIED,
        "",
        format_time(now),
        generation,
    )
    return replace(decision, status=decision.status.model_copy(update={"conditions": resolved}))
