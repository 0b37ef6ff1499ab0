"""Kubernetes-style conditions: lastTransitionTime moves only when status flips."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from imagerollout.api.v1alpha1 import Condition
from imagerollout.core import reasons as R


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    now: str,
    generation: int | None,
    before: Sequence[Condition] | None = None,
) -> list[Condition]:
    """Set one condition. `before` (default: `conditions`) decides whether status flipped."""
    value = "True" if status else "False"
    previous = find(conditions if before is None else before, type_)
    kept = previous is not None and previous.status == value
    updated = Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=previous.last_transition_time if previous and kept else now,
        observed_generation=generation,
    )
    if find(conditions, type_) is None:
        return [*conditions, updated]
    return [updated if c.type == type_ else c for c in conditions]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def cause(status: Mapping[str, Any]) -> str:
    """Why a rollout (status as JSON) is Degraded or Paused: the reason and message of its
    Progressing or Paused condition, or "" (the phase's message may only say what was done)."""
    wanted = {"Degraded": R.PROGRESSING, "Paused": R.PAUSED}.get(status.get("phase") or "")
    for condition in status.get("conditions") or []:
        if condition.get("type") == wanted:
            return f"{condition.get('reason', '')}: {condition.get('message', '')}".strip(": ")
    return ""
