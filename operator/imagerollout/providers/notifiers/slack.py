"""A Slack incoming webhook: a Block Kit message (header, facts, the explaining gates).

Slack reads `&`, `<` and `>` in mrkdwn as markup, so every value is escaped: a model name or an
event message must not turn into a link or a mention.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagerollout.core.notifications import Notification
from imagerollout.providers.notifiers.notifier import ICONS, facts, gate_line

HEADER_CHARS = 150  # Slack's limit on a header's plain text
SECTION_CHARS = 3000


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class SlackNotifier:
    name: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self, note: Notification) -> dict[str, Any]:
        title = f"{ICONS[note.trigger.value]} {note.title}"
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:HEADER_CHARS]}},
            _section(escape(note.message)),
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{key}*\n{escape(value)}"}
                    for key, value in facts(note)
                ],
            },
        ]
        if note.gates:
            lines = "\n".join(f"• `{escape(gate_line(g))}`" for g in note.gates)
            blocks.append(_section(f"*Gates*\n{lines}"))
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(note.time)}]}
        )
        # `text` is what notifications and screen readers show.
        return {"text": f"{title}: {note.message}", "blocks": blocks}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_CHARS]}}
