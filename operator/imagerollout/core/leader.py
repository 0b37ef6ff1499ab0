"""Leader election on a Lease, as a pure decision: what to write next, and whether we still lead.

The rules are client-go's (k8s.io/client-go/tools/leaderelection):
- A lease is expired when it has not changed for its duration, timed on *our* monotonic clock
  from the moment we first saw its current record, so clock skew between replicas is harmless.
- The holder renews every retry period; it stops acting once it has failed to renew for the
  renew deadline (shorter than the duration), so it has stopped before a standby may take over.
- An empty holder (a leader that released on shutdown) may be taken at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum


@dataclass(frozen=True)
class LeaseRecord:
    holder: str  # "" when released
    duration_s: int
    acquired_at: datetime | None
    renewed_at: datetime | None
    transitions: int = 0


@dataclass(frozen=True)
class Observation:
    """The record as last read, and when (monotonic seconds) it was first seen like that."""

    record: LeaseRecord
    seen_at: float


class Verb(Enum):
    CREATE = "create"
    UPDATE = "update"
    WAIT = "wait"


@dataclass(frozen=True)
class Move:
    verb: Verb
    record: LeaseRecord | None  # what to write (CREATE, UPDATE)
    observation: Observation | None  # carry into the next call


@dataclass(frozen=True)
class Timing:
    duration_s: int
    renew_deadline_s: float
    retry_s: float

    @classmethod
    def for_duration(cls, duration_s: int) -> Timing:
        """client-go's default proportions (15 s / 10 s / 2 s)."""
        if duration_s < 2:
            raise ValueError(f"lease duration must be at least 2 s, got {duration_s}")
        return cls(duration_s, duration_s * 2 / 3, duration_s * 2 / 15)


def observe(last: Observation | None, record: LeaseRecord | None, now: float) -> Observation | None:
    if record is None:
        return None
    if last is not None and last.record == record:
        return last
    return Observation(record, now)


def expired(observation: Observation, now: float) -> bool:
    record = observation.record
    return not record.holder or now >= observation.seen_at + record.duration_s


def next_move(
    identity: str,
    record: LeaseRecord | None,
    last: Observation | None,
    now: float,
    wall: datetime,
    timing: Timing,
) -> Move:
    """Given the Lease as just read (None: absent), what to write to hold or take it."""
    if record is None:
        fresh = LeaseRecord(identity, timing.duration_s, wall, wall, 0)
        return Move(Verb.CREATE, fresh, None)
    seen = observe(last, record, now)
    assert seen is not None
    if record.holder == identity:
        renewed = replace(record, renewed_at=wall, duration_s=timing.duration_s)
        return Move(Verb.UPDATE, renewed, seen)
    if expired(seen, now):
        taken = LeaseRecord(identity, timing.duration_s, wall, wall, record.transitions + 1)
        return Move(Verb.UPDATE, taken, seen)
    return Move(Verb.WAIT, None, seen)


def released(record: LeaseRecord, wall: datetime) -> LeaseRecord:
    """What a leader writes on a clean shutdown: no holder, so a standby need not wait."""
    return replace(record, holder="", duration_s=1, renewed_at=wall)


def still_leading(last_renewed: float | None, now: float, timing: Timing) -> bool:
    """A leader that could not renew for the renew deadline must stop acting."""
    return last_renewed is not None and now - last_renewed < timing.renew_deadline_s


def wait_seconds(move: Move, now: float, timing: Timing) -> float:
    """Leaders renew every retry period; a standby checks again when the lease could expire."""
    if move.verb is not Verb.WAIT or move.observation is None:
        return timing.retry_s
    due = move.observation.seen_at + move.observation.record.duration_s - now
    return max(0.05, min(timing.retry_s, due))
