"""A deduplicating work queue of rollout keys, as client-go's: a key is queued at most once,
is handed to one worker at a time, and a key added while it is being worked on is queued
again when that worker is done. Keys can also be added for later (a deadline) or after a
per-key backoff (a failed pass)."""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
BACKOFF = (0.5, 60.0)


class WorkQueue(Generic[K]):
    def __init__(
        self,
        backoff: tuple[float, float] = BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self._backoff, self._clock = backoff, clock
        self._on_wait = on_wait  # seconds from ready to taken: how far behind the workers are
        self._ready: deque[K] = deque()
        self._ready_since: dict[K, float] = {}
        self._queued: set[K] = set()
        self._working: set[K] = set()
        self._again: set[K] = set()  # added while being worked on
        self._later: list[tuple[float, int, K]] = []  # (when, sequence, key)
        self._due: dict[K, float] = {}  # the earliest pending deadline per key
        self._failures: dict[K, int] = {}
        self._sequence = 0
        self._closed = False
        self._cond = threading.Condition()

    def add(self, key: K) -> None:
        with self._cond:
            self._add(key)

    def _add(self, key: K, since: float | None = None) -> None:
        if self._closed or key in self._queued:
            return
        if key in self._working:
            self._again.add(key)
            return
        self._queued.add(key)
        self._ready.append(key)
        self._ready_since[key] = self._clock() if since is None else since
        self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue `key` in `delay` seconds; an earlier pending deadline for it is kept."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            when = self._clock() + delay
            if self._closed or self._due.get(key, float("inf")) <= when:
                return
            self._due[key] = when
            self._sequence += 1
            heapq.heappush(self._later, (when, self._sequence, key))
            self._cond.notify()

    def retry(self, key: K) -> float:
        """Queue `key` after its backoff (0.5 s, doubling to 60 s); returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay: float = min(self._backoff[0] * 2**failures, self._backoff[1])
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """A pass succeeded: the next failure starts the backoff afresh."""
        with self._cond:
            self._failures.pop(key, None)

    def get(self, timeout: float | None = None) -> K | None:
        """The next ready key (the caller must call done(key)); None once closed or timed out."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                self._promote_due()
                if self._ready:
                    key = self._ready.popleft()
                    self._queued.discard(key)
                    self._working.add(key)
                    since = self._ready_since.pop(key)
                    if self._on_wait is not None:
                        self._on_wait(self._clock() - since)
                    return key
                if self._closed:
                    return None
                wait = self._later[0][0] - self._clock() if self._later else None
                if deadline is not None:
                    left = deadline - self._clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def _promote_due(self) -> None:
        now = self._clock()
        while self._later and self._later[0][0] <= now:
            when, _, key = heapq.heappop(self._later)
            if self._due.get(key) == when:
                del self._due[key]
                self._add(key, since=when)  # lateness counts from the deadline

    def done(self, key: K) -> None:
        with self._cond:
            self._working.discard(key)
            if key in self._again:
                self._again.discard(key)
                self._add(key)

    def close(self) -> None:
        """Hand out no more keys; workers finish what they hold."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready) + len(self._due)
