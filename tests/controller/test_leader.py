"""LeaseLeader against an in-memory Lease store that refuses stale resourceVersions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from imagerollout.controller.leader import LeaseLeader
from imagerollout.core.leader import LeaseRecord, Timing
from imagerollout.kube.client import ApiError, ConflictError
from imagerollout.kube.leases import StoredLease

TIMING = Timing.for_duration(4)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class MemoryLeases:
    """The API server's part: one Lease, optimistic concurrency, and an outage switch."""

    namespace: str = "ops"
    name: str = "imagerollout"
    stored: StoredLease | None = None
    down: bool = False
    writes: list[str] = field(default_factory=list)

    def get(self) -> StoredLease | None:
        if self.down:
            raise ApiError(503, "unavailable")
        return self.stored

    def create(self, record: LeaseRecord) -> StoredLease:
        if self.stored is not None:
            raise ConflictError(409, "already exists")
        return self._write(record)

    def update(self, record: LeaseRecord, resource_version: str) -> StoredLease:
        if self.down:
            raise ApiError(503, "unavailable")
        if self.stored is None or self.stored.resource_version != resource_version:
            raise ConflictError(409, "the object has been modified")
        return self._write(record)

    def _write(self, record: LeaseRecord) -> StoredLease:
        version = str(len(self.writes) + 1)
        self.writes.append(record.holder)
        self.stored = StoredLease(record, version)
        return self.stored


def replica(leases: MemoryLeases, name: str, clock: Clock) -> tuple[LeaseLeader, list[str]]:
    lost: list[str] = []
    wall = lambda: datetime.fromtimestamp(clock.now, UTC)  # noqa: E731
    leader = LeaseLeader(leases, TIMING, name, clock, wall)  # type: ignore[arg-type]
    leader._on_lost = lambda: lost.append(name)
    return leader, lost


def test_exactly_one_of_two_replicas_leads_and_the_standby_takes_over_when_it_goes_silent() -> None:
    clock, leases = Clock(), MemoryLeases()
    a, _ = replica(leases, "a", clock)
    b, _ = replica(leases, "b", clock)
    a.step()
    b.step()
    assert (a.is_leading(), b.is_leading()) == (True, False)
    for _ in range(10):  # a renews every retry period; b never takes over
        clock.now += TIMING.retry_s
        a.step()
        b.step()
        assert (a.is_leading(), b.is_leading()) == (True, False)
    # a is SIGKILLed: it no longer steps. b takes over once the lease has been silent for 4 s.
    killed_at = clock.now
    while not b.is_leading():
        clock.now += 0.1
        b.step()
    assert TIMING.duration_s <= clock.now - killed_at <= TIMING.duration_s + TIMING.retry_s
    assert leases.stored is not None
    assert leases.stored.record.transitions == 1


def test_a_leader_that_cannot_renew_stops_before_the_standby_starts() -> None:
    clock, leases = Clock(), MemoryLeases()
    a, lost = replica(leases, "a", clock)
    a.step()
    leases.down = True  # a is cut off from the API server
    stopped_at = None
    while stopped_at is None:
        clock.now += 0.1
        a.step()
        if not a.is_leading():
            stopped_at = clock.now
    assert lost == ["a"]
    assert stopped_at - 1000.0 < TIMING.duration_s  # before any standby could take over


def test_a_conflicting_write_loses_the_race_without_leading() -> None:
    clock, leases = Clock(), MemoryLeases()
    a, _ = replica(leases, "a", clock)
    b, _ = replica(leases, "b", clock)
    a.step()
    b.step()  # b sees a's lease
    clock.now += 10  # a has been silent: b takes over; a wakes up with a stale read
    stale = leases.stored
    b.step()
    assert b.is_leading()
    assert stale is not None
    # a renews with the version it read before b's write: refused.
    try:
        leases.update(stale.record, stale.resource_version)
    except ConflictError:
        pass
    else:
        raise AssertionError("a stale update was accepted")
    a.step()  # reads again, sees b
    assert not a.is_leading()


def test_release_hands_over_at_once_and_a_lost_lease_is_reported() -> None:
    clock, leases = Clock(), MemoryLeases()
    a, _ = replica(leases, "a", clock)
    b, lost_b = replica(leases, "b", clock)
    a.step()
    b.step()
    a.release()
    assert leases.stored is not None
    assert leases.stored.record.holder == ""
    assert not a.is_leading()
    clock.now += 0.1
    b.step()
    assert b.is_leading()  # no need to wait out the duration
    c, _ = replica(leases, "c", clock)
    leases.stored = StoredLease(LeaseRecord("c", 4, None, None, 9), "x")  # c wrote meanwhile
    b.step()
    assert lost_b == ["b"]
    assert not b.is_leading()
    assert not c.is_leading()  # c has not stepped
