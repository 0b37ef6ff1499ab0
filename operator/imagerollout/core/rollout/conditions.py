"""Kubernetes-style conditions: lastTransitionTime moves only when status flips."""

from __future__ import annotations

from collections.abc import Sequence

from imagerollout.api.v1alpha1 import Condition


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
