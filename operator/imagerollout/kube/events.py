"""Events posted off the reconcile path, as client-go's EventRecorder does.

A pass that changed something hands its events here and goes on: at N = 500 posting them
inline was a third of every worker's time, and the next rollout's route waited for it. Each
rollout's events go to the same sender thread, so they keep their order. Shutdown flushes
what is queued (SIGTERM loses no event).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

Object = dict[str, Any]
Post = Callable[[Object, str, str, bool], None]
log = logging.getLogger(__name__)
_STOP = object()


class EventRecorder:
    def __init__(self, post: Post, senders: int) -> None:
        self._post = post
        self._queues: list[queue.Queue[Any]] = [queue.Queue() for _ in range(senders)]
        self._threads = [
            threading.Thread(target=self._run, args=(q,), name=f"events-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for thread in self._threads:
            thread.start()

    def record(self, rollout: Object, reason: str, message: str, warning: bool) -> None:
        meta = rollout["metadata"]
        lane = zlib.crc32(f"{meta['namespace']}/{meta['name']}".encode()) % len(self._queues)
        self._queues[lane].put((rollout, reason, message, warning))

    def flush(self, timeout: float) -> bool:
        """Post everything queued, then stop the senders; False if time ran out."""
        for q in self._queues:
            q.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return not any(thread.is_alive() for thread in self._threads)

    def _run(self, lane: queue.Queue[Any]) -> None:
        while (item := lane.get()) is not _STOP:
            try:
                self._post(*item)
            except Exception:  # events are best effort; status is the truth
                log.exception("could not post event %s", item[1])
