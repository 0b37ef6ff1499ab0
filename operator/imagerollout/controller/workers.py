"""A few worker threads taking rollout keys off the queue, one pass each.

A pass returns when to look again (its next deadline) or raises: then the key is retried
with backoff, and the log gets one line when a rollout's error is new, not one per retry.
A worker never acts while the leader says this process is not leading.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from imagerollout.controller.leader import Leader
from imagerollout.controller.queue import WorkQueue
from imagerollout.controller.reconciler import ActionError
from imagerollout.kube.client import ApiError, ConflictError

K = TypeVar("K", bound=Hashable)
log = logging.getLogger("imagerollout")
STANDBY_RECHECK = 1.0  # seconds: a standby looks again, so a takeover acts within this
CONFLICT_RETRY = 0.1  # seconds: the watch brings the newer object quickly


class Workers(Generic[K]):
    def __init__(
        self,
        queue: WorkQueue[K],
        handle: Callable[[K], float | None],
        leader: Leader,
        count: int,
    ) -> None:
        self.queue, self.handle, self.leader = queue, handle, leader
        self._errors: dict[K, str] = {}
        self._threads = [
            threading.Thread(target=self._run, name=f"worker-{i}", daemon=True)
            for i in range(count)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float) -> None:
        """Take no new keys; wait for the passes in flight (their events included)."""
        self.queue.close()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self) -> None:
        while (key := self.queue.get()) is not None:
            try:
                self._work(key)
            finally:
                self.queue.done(key)

    def _work(self, key: K) -> None:
        if not self.leader.is_leading():
            self.queue.add_after(key, STANDBY_RECHECK)
            return
        try:
            delay = self.handle(key)
        except ConflictError:
            log.debug("%s: a cached object was stale; again shortly", key)
            self.queue.add_after(key, CONFLICT_RETRY)
            return
        except (ActionError, ApiError) as error:
            self._failed(key, str(error))
            return
        except Exception as error:  # one broken rollout must not stop the others
            if self._errors.get(key) != repr(error):
                log.exception("%s: pass failed", key)
            self._failed(key, repr(error), logged=True)
            return
        if self._errors.pop(key, None) is not None:
            log.info("%s: recovered", key)
        self.queue.forget(key)
        if delay is not None:
            self.queue.add_after(key, delay)

    def _failed(self, key: K, message: str, logged: bool = False) -> None:
        delay = self.queue.retry(key)
        if self._errors.get(key) != message and not logged:
            log.warning("%s: %s; retrying with backoff (%.1fs)", key, message, delay)
        self._errors[key] = message
