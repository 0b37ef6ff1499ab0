"""The providers of an operator, from its notifiers Secret (key providers.yaml):

providers:
  - name: oncall          # what spec.notifications[].provider names
    type: slack           # webhook, slack or teams
    url: https://hooks.slack.com/services/...
    headers: {}           # optional, such as Authorization for a webhook
"""

from __future__ import annotations

from enum import StrEnum

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from imagerollout.providers.notifiers.notifier import Notifier
from imagerollout.providers.notifiers.slack import SlackNotifier
from imagerollout.providers.notifiers.teams import TeamsNotifier
from imagerollout.providers.notifiers.webhook import WebhookNotifier

SECRET_KEY = "providers.yaml"


class ProviderType(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)
    type: ProviderType
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    headers: dict[str, str] = Field(default_factory=dict)


class ProvidersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    providers: list[ProviderConfig] = Field(default_factory=list)


def parse_providers(text: str) -> dict[str, Notifier]:
    """The notifiers of a providers.yaml; ValueError with the first problem (never the URL)."""
    try:
        parsed = ProvidersFile.model_validate(yaml.safe_load(text) or {})
    except yaml.YAMLError as error:
        raise ValueError(f"{SECRET_KEY} is not YAML: {type(error).__name__}") from None
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise ValueError(f"{SECRET_KEY}: {where}: {problem['msg']}") from None
    names = [p.name for p in parsed.providers]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{SECRET_KEY}: provider names used more than once: {', '.join(twice)}")
    return {p.name: build(p) for p in parsed.providers}


KINDS: dict[ProviderType, type[WebhookNotifier] | type[SlackNotifier] | type[TeamsNotifier]] = {
    ProviderType.WEBHOOK: WebhookNotifier,
    ProviderType.SLACK: SlackNotifier,
    ProviderType.TEAMS: TeamsNotifier,
}


def build(config: ProviderConfig) -> Notifier:
    return KINDS[config.type](config.name, config.url, dict(config.headers))
