from __future__ import annotations

from typing import Any

from imagerollout.providers.notifiers.slack import HEADER_CHARS, SlackNotifier
from tests.providers.notifiers.sample import ROLLBACK


def blocks_of(kind: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in body["blocks"] if b["type"] == kind]


def test_slack_gets_block_kit_with_a_header_facts_and_the_failing_gate() -> None:
    body = SlackNotifier("oncall", "https://hooks.slack.com/services/x").payload(ROLLBACK)

    [header] = blocks_of("header", body)
    assert header["text"] == {"type": "plain_text", "text": "❌ prod/imagegen: rolled back"}
    _message, facts, gates = blocks_of("section", body)
    fields = [f["text"] for f in facts["fields"]]
    assert "*Phase*\nDegraded" in fields
    assert "*Step*\n2/4" in fields
    assert "*Canary*\nregistry.example/imagegen:v2" in fields
    assert len(fields) <= 10  # Slack's limit per section
    assert gates["text"]["text"] == (
        "*Gates*\n• `text/logos (quality) Fail: pairs 64, baseline 0.95, canary 0.25, "
        "effect -0.7, bounds [-0.82, -0.55]`"
    )
    assert body["text"].startswith("❌ prod/imagegen: rolled back: text/logos failed")


def test_slack_markup_in_a_message_is_escaped() -> None:
    body = SlackNotifier("oncall", "https://hooks.slack.com/services/x").payload(ROLLBACK)

    message = blocks_of("section", body)[0]["text"]["text"]
    assert "<@here>" not in message
    assert "&lt;@here&gt; &amp; more" in message


def test_a_long_header_is_cut_to_slacks_limit() -> None:
    long = ROLLBACK.__class__(**{**ROLLBACK.__dict__, "name": "x" * 300})

    body = SlackNotifier("oncall", "https://hooks.slack.com/services/x").payload(long)

    assert len(blocks_of("header", body)[0]["text"]["text"]) == HEADER_CHARS
