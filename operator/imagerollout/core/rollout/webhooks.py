"""Gate webhooks, as Flagger has them: what a rollout waits for, asks, or is stopped by.

Pure: the operator makes the calls in the background (controller/webhooks.py) and passes the
latest answers in as observations. A confirm or pre-rollout hook that answered 2xx is recorded
in status.webhooks.passed, so a restarted operator does not ask again; an answer counts only
for the attempt (canary revision and start) it was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagerollout.api.notifications import Webhook, WebhooksStatus, WebhookType
from imagerollout.api.v1alpha1 import RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.observations import Observations, WebhookReply
from imagerollout.core.rollout.actions import CallWebhook
from imagerollout.core.rollout.conditions import find
from imagerollout.core.rollout.draft import Draft

BEFORE_STAGE0 = (WebhookType.CONFIRM_ROLLOUT, WebhookType.PRE_ROLLOUT)


@dataclass(frozen=True)
class Hold:
    """The rollout stops here this pass: it waits, is rolled back, or cannot call a hook."""

    why: str
    reason: str
    abort: bool = False  # a rollback hook answered 2xx
    refused: bool = False  # a hook's URL is not on the allowlist: nothing moves
    deadline: bool = False  # pre-rollout: the wait counts against progressDeadline


def attempt(status: RolloutStatus) -> str:
    revision = status.canary.revision if status.canary else "-"
    return f"{revision}@{status.rollout_started_at or '-'}"


def before_stage0(status: RolloutStatus) -> bool:
    return not status.current_step_index and not status.canary_weight


def sampling_waits(spec: RolloutSpec, status: RolloutStatus, target_revision: str) -> bool:
    """No probe may reach the canary yet: a confirm-rollout or pre-rollout hook of this
    attempt has not passed (a new revision starts a new attempt, with none passed)."""
    hooks = [h.name for h in spec.webhooks if h.type in BEFORE_STAGE0]
    if not hooks:
        return False
    if status.canary is None or status.canary.revision != target_revision:
        return True
    passed = status.webhooks.passed if status.webhooks else []
    return before_stage0(status) and any(name not in passed for name in hooks)


def gate_hooks(spec: RolloutSpec, d: Draft, obs: Observations, canary_ready: bool) -> Hold | None:
    """While the canary is judged: rollback hooks; before stage 0, confirm-rollout and, once
    the canary pods are ready, pre-rollout."""
    for hook in spec.webhooks:
        reply = _current(obs, hook, d)
        if reply is not None and reply.refused:
            why = f"{hook.type.value} webhook {hook.name}: {reply.error}"
            return Hold(why, R.WEBHOOK_NOT_ALLOWED, refused=True)
    for hook in _of(spec, WebhookType.ROLLBACK):
        reply = _current(obs, hook, d)
        if reply is not None and reply.ok:
            why = f"rollback webhook {hook.name} answered {reply.status}"
            return Hold(why, R.ROLLBACK_WEBHOOK, abort=True)
        d.act(_call(spec, d, hook))
    if not before_stage0(d.status):
        return None
    waiting = confirm(spec, d, obs, WebhookType.CONFIRM_ROLLOUT)
    if waiting is not None:
        return Hold(waiting, R.WAITING_FOR_WEBHOOK)
    if not canary_ready:
        return None  # the caller scales the canary and waits for its pods
    waiting = confirm(spec, d, obs, WebhookType.PRE_ROLLOUT)
    return Hold(waiting, R.WAITING_FOR_WEBHOOK, deadline=True) if waiting else None


def confirm(spec: RolloutSpec, d: Draft, obs: Observations, kind: WebhookType) -> str | None:
    """None once every hook of `kind` has answered 2xx in this attempt; else asks the others
    (again) and says what the rollout waits for, in status and, when it changes, an event."""
    passed = list(d.status.webhooks.passed) if d.status.webhooks else []
    waiting = []
    for hook in _of(spec, kind):
        if hook.name in passed:
            continue
        reply = _current(obs, hook, d)
        if reply is not None and reply.ok:
            passed.append(hook.name)
            told = f"{kind.value} webhook {hook.name} answered {reply.status}"
            d.event(R.WEBHOOK_PASSED, told)
            d.condition(R.PROGRESSING, True, R.WEBHOOK_PASSED, told)
            continue
        d.act(_call(spec, d, hook))
        waiting.append(f"{hook.name} ({reply.error if reply else 'asked'})")
    if passed != (d.status.webhooks.passed if d.status.webhooks else []):
        d.set(webhooks=WebhooksStatus(passed=passed))
    if not waiting:
        return None
    why = f"waiting for {kind.value} webhook {', '.join(waiting)}"
    before = find(d.before.conditions, R.PROGRESSING)
    if before is None or before.message != why:
        d.event(R.WAITING_FOR_WEBHOOK, why)
    d.condition(R.PROGRESSING, True, R.WAITING_FOR_WEBHOOK, why)
    return why


def confirm_promotion(spec: RolloutSpec, d: Draft, obs: Observations) -> str | None:
    """At the last step: None once every confirm-promotion hook has answered 2xx."""
    if (d.status.current_step_index or 0) < len(spec.steps) - 1:
        return None
    return confirm(spec, d, obs, WebhookType.CONFIRM_PROMOTION)


def body(spec: RolloutSpec, status: RolloutStatus, hook: Webhook) -> dict[str, Any]:
    """What a hook is told (the operator adds the rollout's name and namespace): Flagger's
    phase, checksum and metadata, and the step and both models."""
    canary, stable, index = status.canary, status.stable, status.current_step_index or 0
    return {
        "hook": hook.name,
        "type": hook.type.value,
        "phase": status.phase.value if status.phase else None,
        "checksum": canary.revision if canary else None,
        "canary": {"revision": canary.revision, "model": canary.model} if canary else None,
        "stable": {"revision": stable.revision, "model": stable.model} if stable else None,
        "step": min(index + 1, len(spec.steps)),
        "steps": len(spec.steps),
        "canaryWeight": status.canary_weight,
        "metadata": dict(hook.metadata),
    }


def _of(spec: RolloutSpec, kind: WebhookType) -> list[Webhook]:
    return [hook for hook in spec.webhooks if hook.type == kind]


def _current(obs: Observations, hook: Webhook, d: Draft) -> WebhookReply | None:
    reply = obs.webhooks.get(hook.name)
    return reply if reply is not None and reply.attempt == attempt(d.status) else None


def _call(spec: RolloutSpec, d: Draft, hook: Webhook) -> CallWebhook:
    return CallWebhook(hook.name, attempt(d.status), body(spec, d.status, hook))
