"""Spec of notifications (who hears about a rollout) and gate webhooks (who may hold or stop it).

Notification providers (their URLs are secrets) are configured for the operator, in the Secret
named by `imagerollout run --notifiers-secret`; a rollout subscribes to them by name. Gate
webhooks are called the way Flagger calls them, and only at URLs on the operator's allowlist.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, JsonValue

from imagerollout.api.fields import (
    DNS_LABEL,
    ApiModel,
    JsonDict,
    cel,
    duration_field,
    url_has_host,
)


class Trigger(StrEnum):
    STARTED = "Started"
    STEP_COMPLETED = "StepCompleted"
    PAUSED = "Paused"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    INCONCLUSIVE = "Inconclusive"


def _unique(field: str, what: str) -> JsonDict:
    return cel(
        f"self.all(a, self.exists_one(b, b.{field} == a.{field}))",
        f"{what} must be unique",
        f"'{what} must be unique: %s used more than once'.format("
        f"[self.filter(a, !self.exists_one(b, b.{field} == a.{field})).map(a, a.{field})])",
    )


class Subscription(ApiModel):
    provider: str = Field(
        description="Name of a provider in the operator's notifiers Secret (providers.yaml).",
        pattern=DNS_LABEL,
        max_length=63,
    )
    triggers: list[Trigger] = Field(
        default_factory=lambda: list(Trigger),
        max_length=len(Trigger),
        description="What is sent: Started, StepCompleted, Paused, Promoted, RolledBack (an "
        "abort or a rollback, with the failing gates and their numbers) and Inconclusive. "
        "Omitted: all of them.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


SUBSCRIPTION_RULES: list[JsonValue] = [_unique("provider", "notification providers")]


class WebhookType(StrEnum):
    CONFIRM_ROLLOUT = "confirm-rollout"
    PRE_ROLLOUT = "pre-rollout"
    CONFIRM_PROMOTION = "confirm-promotion"
    ROLLBACK = "rollback"


class Webhook(ApiModel):
    name: str = Field(
        description="Hook name, used in status and events.", pattern=DNS_LABEL, max_length=63
    )
    type: WebhookType = Field(
        description="confirm-rollout: the canary is not started (no pods, no probes) until the "
        "hook answers 2xx. pre-rollout: called once the canary pods are ready, before stage 0; "
        "a rollout whose hook has not answered 2xx within progressDeadline is rolled back. "
        "confirm-promotion: the last step does not complete until the hook answers 2xx. "
        "rollback: called while the canary is judged; a 2xx rolls it back."
    )
    url: str = Field(
        description="Where the JSON body is POSTed. Must match the operator's endpoint "
        "allowlist. Redirects are not followed.",
        pattern=r"^https?://[^\s]+$",
        max_length=512,
        json_schema_extra={
            "x-kubernetes-validations": [url_has_host("url", "http://gate.ci:8080/confirm")]
        },
    )
    timeout: str = duration_field("How long one call may take.", "1s", "1m", default="10s")
    metadata: dict[str, str] = Field(
        default_factory=dict,
        max_length=16,
        description="Passed through to the receiver in the body's metadata.",
    )


WEBHOOK_RULES: list[JsonValue] = [_unique("name", "webhook names")]


class WebhooksStatus(ApiModel):
    passed: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="Confirm and pre-rollout hooks that answered 2xx in this attempt, so a "
        "restarted operator does not ask again.",
    )
