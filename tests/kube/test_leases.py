"""Lease records to and from the coordination.k8s.io/v1 wire format."""

from __future__ import annotations

from datetime import UTC, datetime

from imagerollout.core.leader import LeaseRecord
from imagerollout.kube.leases import record_of, spec_of


def test_round_trip_with_microseconds() -> None:
    moment = datetime(2026, 12, 2, 12, 0, 1, 250000, tzinfo=UTC)
    record = LeaseRecord("pod-a_1", 4, moment, moment, 2)
    spec = spec_of(record)
    assert spec["renewTime"] == "2026-12-02T12:00:01.250000Z"
    assert record_of({"spec": spec}) == record


def test_a_released_or_empty_lease_reads_as_no_holder() -> None:
    assert spec_of(LeaseRecord("", 1, None, None))["holderIdentity"] is None
    assert record_of({"spec": {}}) == LeaseRecord("", 0, None, None, 0)
    seconds = record_of({"spec": {"renewTime": "2026-12-02T12:00:01Z"}})
    assert seconds.renewed_at == datetime(2026, 12, 2, 12, 0, 1, tzinfo=UTC)
