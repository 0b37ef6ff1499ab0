"""Microsoft Teams: an Adaptive Card in a message, as Teams workflows (Power Automate) and the
Bot Framework take it; the retired Office 365 connector cards are not sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagerollout.core.notifications import Notification
from imagerollout.providers.notifiers.notifier import ICONS, facts, gate_line

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ATTENTION = {"RolledBack": "attention", "Inconclusive": "warning", "Promoted": "good"}


@dataclass(frozen=True)
class TeamsNotifier:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self, note: Notification) -> dict[str, Any]:
        trigger = note.trigger.value
        body: list[dict[str, Any]] = [
            {
                "type": "TextBlock",
                "text": f"{ICONS[trigger]} {note.title}",
                "weight": "Bolder",
                "size": "Medium",
                "color": ATTENTION.get(trigger, "default"),
                "wrap": True,
            },
            {"type": "TextBlock", "text": note.message, "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": key, "value": value} for key, value in facts(note)],
            },
        ]
        for gate in note.gates:
            body.append({"type": "TextBlock", "text": gate_line(gate), "wrap": True})
        card = {
            "$schema": CARD_SCHEMA,
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }
