"""Leader election: a thread that takes, renews and releases the operator's Lease.

The controller acts only while `is_leading()`; `on_lost` runs (on this thread) when the lease is
lost, so the controller can stop its samplers. A standby keeps trying, and takes over when the
leader stops renewing (SIGKILL) or releases (SIGTERM). Decisions are in core/leader.py.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from imagerollout.core.leader import (
    Move,
    Observation,
    Timing,
    Verb,
    next_move,
    released,
    still_leading,
    wait_seconds,
)
from imagerollout.kube.client import ApiError
from imagerollout.kube.leases import Leases, StoredLease

log = logging.getLogger(__name__)


def default_identity() -> str:
    """The pod's name (POD_ID) or host, plus a random part: a restarted process is a new holder."""
    base = os.environ.get("POD_ID") or socket.gethostname()
    return f"{base}_{uuid.uuid4().hex[:8]}"


class LeaseLeader:
    def __init__(
        self,
        leases: Leases,
        timing: Timing,
        identity: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.leases, self.timing = leases, timing
        self.identity = identity or default_identity()
        self._clock, self._wall = clock, wall
        self._stored: StoredLease | None = None
        self._observation: Observation | None = None
        self._renewed_at: float | None = None  # our last successful write as holder
        self._on_lost: Callable[[], None] = lambda: None
        self._failure: str | None = None  # logged once per distinct error
        self._led = False  # leading as of the last step: on_lost fires once per term
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="leader", daemon=True)

    def start(self, on_lost: Callable[[], None]) -> None:
        self._on_lost = on_lost
        self._thread.start()

    def is_leading(self) -> bool:
        with self._lock:
            return still_leading(self._renewed_at, self._clock(), self.timing)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.step())

    def step(self) -> float:
        """One read and, if due, one write; returns the seconds until the next step."""
        try:
            move = self._try()
        except ApiError as error:  # conflicts, timeouts: read again next time
            self._note_failure(str(error))
            move = None
        except OSError as error:
            self._note_failure(f"{type(error).__name__}: {error}")
            move = None
        leading = self.is_leading()
        if self._led and not leading:
            log.warning("lost the lease %s/%s", *self._where())
            self._on_lost()
        self._led = leading
        if move is None:
            return self.timing.retry_s
        return wait_seconds(move, self._clock(), self.timing)

    def _try(self) -> Move:
        stored = self.leases.get()
        now = self._clock()
        record = stored.record if stored else None
        move = next_move(self.identity, record, self._observation, now, self._wall(), self.timing)
        self._observation = move.observation
        if move.verb is Verb.WAIT:
            with self._lock:
                self._renewed_at = None  # someone else holds it: stop at once
            return move
        assert move.record is not None
        if move.verb is Verb.CREATE:
            written = self.leases.create(move.record)
        else:
            assert stored is not None
            written = self.leases.update(move.record, stored.resource_version)
        if record is None or record.holder != self.identity:
            log.info("acquired the lease %s/%s as %s", *self._where(), self.identity)
        with self._lock:
            self._stored, self._renewed_at = written, now
        self._failure = None
        return move

    def _where(self) -> tuple[str, str]:
        return self.leases.namespace, self.leases.name

    def _note_failure(self, message: str) -> None:
        if message != self._failure:
            log.warning("lease %s/%s: %s", *self._where(), message)
        self._failure = message

    def release(self) -> None:
        """Stop renewing; if we hold the lease, hand it over at once (an empty holder)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timing.duration_s)
        with self._lock:
            stored = self._stored
            leading = still_leading(self._renewed_at, self._clock(), self.timing)
            self._renewed_at = None
        if stored is None or not leading:
            return
        try:
            self.leases.update(released(stored.record, self._wall()), stored.resource_version)
            log.info("released the lease %s/%s", *self._where())
        except (ApiError, OSError) as error:  # the standby then waits out the duration
            log.warning("could not release the lease %s/%s: %s", *self._where(), error)


class Leader(Protocol):
    """What the controller needs: act only while leading, release after draining."""

    def start(self, on_lost: Callable[[], None]) -> None: ...

    def is_leading(self) -> bool: ...

    def release(self) -> None: ...


class AlwaysLeader:
    """No election (one replica, `run` without --leader-elect): always leading."""

    def start(self, on_lost: Callable[[], None]) -> None:
        pass

    def is_leading(self) -> bool:
        return True

    def release(self) -> None:
        pass
