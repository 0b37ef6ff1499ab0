"""Gate webhook calls in the background: allowlist, one call at a time, a gap between calls."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from imagerollout.api.notifications import Webhook
from imagerollout.controller.webhooks import MIN_GAP_SECONDS, WebhookCalls
from imagerollout.core.observations import WebhookReply
from imagerollout.core.rollout.actions import CallWebhook
from imagerollout.providers.post import Reply

HOOK = Webhook.model_validate(
    {
        "name": "ship",
        "type": "confirm-promotion",
        "url": "http://127.0.0.1:9000/ok",
        "timeout": "3s",
    }
)
KEY = "prod/imagegen"


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.release = threading.Event()
        self.release.set()
        self.answered = threading.Semaphore(0)

    def __call__(self, url: str, body: Mapping[str, Any], timeout: float) -> Reply:
        self.calls.append((url, dict(body), timeout))
        self.release.wait(5)
        self.answered.release()
        return Reply(self.status, None if self.status < 300 else f"HTTP {self.status}")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def calls(receiver: Receiver, clock: Clock) -> WebhookCalls:
    return WebhookCalls(receiver, lambda: ["http://127.0.0.1:*"], clock)


def wait_answer(receiver: Receiver, webhooks: WebhookCalls) -> dict[str, WebhookReply]:
    assert receiver.answered.acquire(timeout=5)
    for _ in range(100):  # the worker stores the reply right after answering
        replies = webhooks.replies(KEY)
        if replies:
            return replies
        threading.Event().wait(0.01)
    raise AssertionError("no reply stored")


def test_the_answer_is_observed_with_its_attempt_and_the_body_names_the_rollout() -> None:
    receiver, clock = Receiver(200), Clock()
    webhooks = calls(receiver, clock)

    webhooks.call(KEY, HOOK, CallWebhook("ship", "r1@t1", {"type": "confirm-promotion"}))

    assert wait_answer(receiver, webhooks) == {"ship": WebhookReply("r1@t1", 200, None)}
    [(url, body, timeout)] = receiver.calls
    assert (url, timeout) == ("http://127.0.0.1:9000/ok", 3.0)
    assert body == {"name": "imagegen", "namespace": "prod", "type": "confirm-promotion"}


def test_one_call_at_a_time_and_a_gap_between_calls() -> None:
    receiver, clock = Receiver(403), Clock()
    receiver.release.clear()  # the receiver is slow
    webhooks = calls(receiver, clock)
    action = CallWebhook("ship", "r1@t1", {})

    webhooks.call(KEY, HOOK, action)
    clock.now += MIN_GAP_SECONDS + 1
    webhooks.call(KEY, HOOK, action)  # still in flight: not called again
    receiver.release.set()
    assert wait_answer(receiver, webhooks)["ship"].status == 403
    webhooks.call(KEY, HOOK, action)  # the first call started long enough ago
    assert receiver.answered.acquire(timeout=5)
    webhooks.call(KEY, HOOK, action)  # just called: wait for the gap

    assert len(receiver.calls) == 2


def test_a_new_attempt_forgets_the_old_answer_and_calls_at_once() -> None:
    receiver, clock = Receiver(200), Clock()
    webhooks = calls(receiver, clock)
    webhooks.call(KEY, HOOK, CallWebhook("ship", "r1@t1", {}))
    wait_answer(receiver, webhooks)

    webhooks.call(KEY, HOOK, CallWebhook("ship", "r2@t2", {}))

    assert webhooks.replies(KEY) == {}
    assert receiver.answered.acquire(timeout=5)
    assert len(receiver.calls) == 2


def test_a_url_off_the_allowlist_is_never_called() -> None:
    receiver = Receiver(200)
    webhooks = WebhookCalls(receiver, lambda: ["http://10.0.0.*:8080"], Clock())

    webhooks.call(KEY, HOOK, CallWebhook("ship", "r1@t1", {}))

    [reply] = webhooks.replies(KEY).values()
    assert reply.refused
    assert reply.error == (
        "endpoint http://127.0.0.1:9000 is not in the endpoint allowlist (http://10.0.0.*:8080)"
    )
    assert receiver.calls == []


def test_a_deleted_rollout_is_forgotten() -> None:
    receiver, clock = Receiver(200), Clock()
    webhooks = calls(receiver, clock)
    webhooks.call(KEY, HOOK, CallWebhook("ship", "r1@t1", {}))
    wait_answer(receiver, webhooks)

    webhooks.forget(KEY)

    assert webhooks.replies(KEY) == {}
