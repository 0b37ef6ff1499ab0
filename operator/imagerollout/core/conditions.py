"""Kubernetes-style conditions: lastTransitionTime moves only when status flips."""

from __future__ import annotations

from imagerollout.api.v1alpha1 import Condition


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: bool,
    reason: str,
    message: str,
    now: str,
    generation: int | None,
) -> list[Condition]:
    value = "True" if status else "False"
    previous = next((c for c in conditions if c.type == type_), None)
    moved = previous is None or previous.status != value
    updated = Condition(
        type=type_,
        status=value,
        reason=reason,
        message=message,
        last_transition_time=now if moved or previous is None else previous.last_transition_time,
        observed_generation=generation,
    )
    return (
        [updated if c.type == type_ else c for c in conditions]
        if previous
        else [
            *conditions,
            updated,
        ]
    )


def find(conditions: list[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)
