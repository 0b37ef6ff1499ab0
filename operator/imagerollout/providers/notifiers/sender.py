"""Delivery in the background: one queue and thread per provider, bounded retries with backoff.

The reconcile loop only enqueues, so a dead receiver never holds a rollout up, and a slow Slack
never delays Teams. A full queue drops the notification (and says so) rather than grow.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from imagerollout.core.notifications import Notification
from imagerollout.providers.notifiers.notifier import Notifier
from imagerollout.providers.post import Reply, post_json

log = logging.getLogger(__name__)
Post = Callable[[str, Mapping[str, Any], float, Mapping[str, str]], Reply]


@dataclass(frozen=True)
class Policy:
    attempts: int = 4
    first_backoff_s: float = 1.0  # doubled after each failed attempt
    timeout_s: float = 5.0
    queue_size: int = 100


@dataclass(frozen=True)
class Outcome:
    provider: str
    note: Notification
    result: str  # "sent", "failed" or "dropped"
    error: str | None = None
    attempts: int = 0


Report = Callable[[Outcome], None]


class Sender:
    def __init__(self, report: Report, policy: Policy = Policy(), post: Post = post_json) -> None:
        self._report, self._policy, self._post = report, policy, post
        self._queues: dict[str, queue.Queue[tuple[Notifier, Notification]]] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def submit(self, notifier: Notifier, note: Notification) -> None:
        with self._lock:
            pending = self._queues.get(notifier.name)
            if pending is None:
                pending = self._queues[notifier.name] = queue.Queue(self._policy.queue_size)
                worker = threading.Thread(
                    target=self._work, args=(pending,), name=f"notify-{notifier.name}", daemon=True
                )
                worker.start()
        try:
            pending.put_nowait((notifier, note))
        except queue.Full:
            self._report(Outcome(notifier.name, note, "dropped", "delivery queue full"))

    def stop(self) -> None:
        self._stopped.set()

    def _work(self, pending: queue.Queue[tuple[Notifier, Notification]]) -> None:
        while not self._stopped.is_set():
            try:
                notifier, note = pending.get(timeout=1)
            except queue.Empty:
                continue
            try:
                self._report(self._deliver(notifier, note))
            except Exception:  # a bad payload must not kill the provider's worker
                log.exception("notification to %s failed", notifier.name)

    def _deliver(self, notifier: Notifier, note: Notification) -> Outcome:
        policy, wait, reply = self._policy, self._policy.first_backoff_s, None
        body = notifier.payload(note)
        for attempt in range(1, policy.attempts + 1):
            reply = self._post(notifier.url, body, policy.timeout_s, notifier.headers)
            if reply.ok:
                return Outcome(notifier.name, note, "sent", attempts=attempt)
            if not _retryable(reply):
                break
            if attempt < policy.attempts and self._stopped.wait(wait):
                break
            wait *= 2
        error = reply.error if reply is not None else "not sent"
        return Outcome(notifier.name, note, "failed", error, attempt)


def _retryable(reply: Reply) -> bool:
    """No answer, a server error or a rate limit may pass; another 4xx (a revoked Slack URL,
    a payload refused) will not."""
    return reply.status is None or reply.status >= 500 or reply.status == 429
