"""Background delivery: bounded retries with backoff, and a dead receiver blocks nobody."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from imagerollout.providers.notifiers.sender import Outcome, Policy, Sender
from imagerollout.providers.notifiers.webhook import WebhookNotifier
from imagerollout.providers.post import Reply
from tests.providers.notifiers.sample import ROLLBACK

FAST = Policy(attempts=3, first_backoff_s=0.01, timeout_s=1, queue_size=2)


class Receiver:
    """A fake post(): answers from a script, records every call."""

    def __init__(self, *replies: Reply, hold: threading.Event | None = None) -> None:
        self.replies, self.hold = list(replies), hold
        self.calls: list[tuple[str, float]] = []

    def __call__(
        self, url: str, body: Mapping[str, Any], timeout: float, headers: Mapping[str, str]
    ) -> Reply:
        if self.hold is not None:
            self.hold.wait(5)
        self.calls.append((url, time.monotonic()))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def deliver(receiver: Receiver, count: int = 1, policy: Policy = FAST) -> list[Outcome]:
    outcomes: list[Outcome] = []
    done = threading.Semaphore(0)

    def report(outcome: Outcome) -> None:
        outcomes.append(outcome)
        done.release()

    sender = Sender(report, policy, receiver)
    for _ in range(count):
        sender.submit(WebhookNotifier("audit", "http://audit/"), ROLLBACK)
    for _ in range(count):
        assert done.acquire(timeout=5), outcomes
    sender.stop()
    return outcomes


def test_a_flaky_receiver_gets_it_on_a_retry() -> None:
    receiver = Receiver(Reply(None, "refused"), Reply(503, "HTTP 503"), Reply(200, None))

    [outcome] = deliver(receiver)

    assert (outcome.result, outcome.attempts) == ("sent", 3)
    gaps = [b - a for (_, a), (_, b) in zip(receiver.calls, receiver.calls[1:], strict=False)]
    assert gaps[1] > gaps[0] >= 0.01  # the backoff doubles


def test_retries_are_bounded_and_the_last_error_is_reported() -> None:
    receiver = Receiver(Reply(None, "no answer from http://audit:80: ConnectTimeoutError"))

    [outcome] = deliver(receiver)

    assert (outcome.result, outcome.attempts) == ("failed", 3)
    assert outcome.error == "no answer from http://audit:80: ConnectTimeoutError"
    assert len(receiver.calls) == 3


def test_a_refused_payload_is_not_retried() -> None:
    receiver = Receiver(Reply(404, "HTTP 404 from https://hooks.slack.com"))

    [outcome] = deliver(receiver)

    assert (outcome.result, outcome.attempts) == ("failed", 1)


def test_a_stuck_receiver_never_blocks_submit_and_a_full_queue_drops() -> None:
    hold = threading.Event()
    outcomes: list[Outcome] = []
    sender = Sender(outcomes.append, FAST, Receiver(Reply(200, None), hold=hold))
    notifier = WebhookNotifier("audit", "http://audit/")

    started = time.monotonic()
    for _ in range(10):
        sender.submit(notifier, ROLLBACK)
    elapsed = time.monotonic() - started
    hold.set()
    sender.stop()

    assert elapsed < 0.5
    # One in the worker's hands, two queued, the other seven dropped.
    assert [o.result for o in outcomes].count("dropped") >= 7
