"""A generic JSON webhook: the notification as it is, camelCase, for scripts and audit logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagerollout.core.notifications import Notification


@dataclass(frozen=True)
class WebhookNotifier:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self, note: Notification) -> dict[str, Any]:
        return {
            "trigger": note.trigger.value,
            "title": note.title,
            "namespace": note.namespace,
            "name": note.name,
            "reason": note.reason,
            "message": note.message,
            "phase": note.phase,
            "step": note.step,
            "steps": note.steps,
            "canaryWeight": note.canary_weight,
            "stableModel": note.stable_model,
            "canaryModel": note.canary_model,
            "gates": [
                {
                    "gate": gate.gate,
                    "kind": gate.kind,
                    "verdict": gate.verdict,
                    "numbers": dict(gate.numbers),
                }
                for gate in note.gates
            ],
            "time": note.time,
        }
