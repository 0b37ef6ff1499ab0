from __future__ import annotations

from imagerollout.providers.notifiers.teams import CARD_SCHEMA, TeamsNotifier
from tests.providers.notifiers.sample import ROLLBACK


def test_teams_gets_an_adaptive_card_with_facts_and_the_failing_gate() -> None:
    body = TeamsNotifier("team", "https://example.webhook.office.com/x").payload(ROLLBACK)

    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["$schema"], card["type"], card["version"]) == (CARD_SCHEMA, "AdaptiveCard", "1.4")
    title, message, facts, gate = card["body"]
    assert title["text"] == "❌ prod/imagegen: rolled back"
    assert title["color"] == "attention"
    assert message["text"].startswith("text/logos failed")
    assert {"title": "Step", "value": "2/4"} in facts["facts"]
    assert {"title": "Reason", "value": "AnalysisFailed"} in facts["facts"]
    assert gate["text"].startswith("text/logos (quality) Fail: pairs 64, baseline 0.95")
