from __future__ import annotations

import pytest

from imagerollout.providers.notifiers.config import parse_providers
from imagerollout.providers.notifiers.slack import SlackNotifier
from imagerollout.providers.notifiers.teams import TeamsNotifier
from imagerollout.providers.notifiers.webhook import WebhookNotifier

PROVIDERS = """
providers:
  - name: oncall
    type: slack
    url: https://hooks.slack.com/services/T/B/secret
  - name: team
    type: teams
    url: https://example.webhook.office.com/x
  - name: audit
    type: webhook
    url: http://audit.internal:8080/rollouts
    headers: {Authorization: Bearer token}
"""


def test_providers_yaml_names_each_provider_and_its_kind() -> None:
    providers = parse_providers(PROVIDERS)

    assert providers == {
        "oncall": SlackNotifier("oncall", "https://hooks.slack.com/services/T/B/secret"),
        "team": TeamsNotifier("team", "https://example.webhook.office.com/x"),
        "audit": WebhookNotifier(
            "audit", "http://audit.internal:8080/rollouts", {"Authorization": "Bearer token"}
        ),
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("providers: [{name: a, type: pagerduty, url: 'http://x'}]", "providers.0.type"),
        ("providers: [{name: a, type: slack, url: 'ftp://x'}]", "providers.0.url"),
        ("providers: [{name: a, type: slack}]", "providers.0.url: Field required"),
        ("providers: [{name: a, type: slack, url: 'http://x', extra: 1}]", "providers.0.extra"),
        (
            "providers: [{name: a, type: slack, url: 'http://x'}, {name: a, type: teams, "
            "url: 'http://y'}]",
            "provider names used more than once: a",
        ),
        ("providers: [", "is not YAML"),
    ],
)
def test_a_bad_providers_yaml_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=r"providers\.yaml") as raised:
        parse_providers(text)

    assert problem in str(raised.value)


def test_an_error_never_shows_a_url() -> None:
    with pytest.raises(ValueError, match=r"providers\.0\.name") as raised:
        parse_providers("providers: [{name: A, type: slack, url: 'https://hooks.slack.com/s'}]")

    assert "hooks.slack.com" not in str(raised.value)
