"""A notification provider turns a Notification into the JSON body its receiver expects.

Delivery (retries, backoff) is the sender's job; which providers exist, config.py's.
"""

from __future__ import annotations

from typing import Any, Protocol

from imagerollout.core.notifications import GateNumbers, Notification

# Icons for chat messages; the generic webhook sends the trigger name only.
ICONS = {
    "Started": "🚀",
    "StepCompleted": "⏩",
    "Paused": "⏸️",
    "Promoted": "✅",
    "RolledBack": "❌",
    "Inconclusive": "❓",
}


class Notifier(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...

    def payload(self, note: Notification) -> dict[str, Any]: ...


def gate_line(gate: GateNumbers) -> str:
    """`text (quality) Fail: pairs 64, baseline 0.98, ...` for chat messages."""
    numbers = ", ".join(f"{k} {v}" for k, v in gate.numbers)
    return f"{gate.gate} ({gate.kind}) {gate.verdict}: {numbers}"


def facts(note: Notification) -> list[tuple[str, str]]:
    """The header facts chat messages show."""
    step = f"{note.step}/{note.steps}" if note.step is not None else f"-/{note.steps}"
    return [
        ("Phase", note.phase or "-"),
        ("Step", step),
        ("Canary weight", f"{note.canary_weight}%"),
        ("Stable", note.stable_model or "-"),
        ("Canary", note.canary_model or "-"),
        ("Reason", note.reason),
    ]
