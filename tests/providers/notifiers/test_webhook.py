from __future__ import annotations

import json

from imagerollout.providers.notifiers.webhook import WebhookNotifier
from tests.providers.notifiers.sample import ROLLBACK


def test_the_generic_webhook_sends_the_notification_with_the_gates_numbers() -> None:
    body = WebhookNotifier("audit", "http://audit:8080/").payload(ROLLBACK)

    assert body["trigger"] == "RolledBack"
    assert body["title"] == "prod/imagegen: rolled back"
    assert (body["namespace"], body["name"], body["reason"]) == (
        "prod",
        "imagegen",
        "AnalysisFailed",
    )
    assert (body["step"], body["steps"], body["canaryWeight"]) == (2, 4, 0)
    assert body["canaryModel"] == "registry.example/imagegen:v2"
    assert body["gates"] == [
        {
            "gate": "text/logos",
            "kind": "quality",
            "verdict": "Fail",
            "numbers": {
                "pairs": "64",
                "baseline": "0.95",
                "canary": "0.25",
                "effect": "-0.7",
                "bounds": "[-0.82, -0.55]",
            },
        }
    ]
    json.dumps(body, allow_nan=False)  # it is sent as JSON
