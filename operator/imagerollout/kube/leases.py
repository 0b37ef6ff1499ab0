"""coordination.k8s.io/v1 Leases: read, create, and update guarded by resourceVersion.

An update with a stale resourceVersion fails with ConflictError, so two replicas that both
think the lease expired cannot both take it: one write wins, the other reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imagerollout.core.leader import LeaseRecord
from imagerollout.kube.client import Kube

API = "coordination.k8s.io/v1"
PLURAL = "leases"
_MICRO = "%Y-%m-%dT%H:%M:%S.%fZ"  # MicroTime


@dataclass(frozen=True)
class StoredLease:
    record: LeaseRecord
    resource_version: str


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    for layout in (_MICRO, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime(_MICRO) if moment else None


def record_of(lease: dict[str, Any]) -> LeaseRecord:
    spec = lease.get("spec") or {}
    return LeaseRecord(
        holder=spec.get("holderIdentity") or "",
        duration_s=int(spec.get("leaseDurationSeconds") or 0),
        acquired_at=_time(spec.get("acquireTime")),
        renewed_at=_time(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def spec_of(record: LeaseRecord) -> dict[str, Any]:
    return {
        "holderIdentity": record.holder or None,
        "leaseDurationSeconds": record.duration_s,
        "acquireTime": _text(record.acquired_at),
        "renewTime": _text(record.renewed_at),
        "leaseTransitions": record.transitions,
    }


class Leases:
    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self.kube, self.namespace, self.name = kube, namespace, name

    def get(self) -> StoredLease | None:
        lease = self.kube.get_object(API, PLURAL, self.namespace, self.name)
        if lease is None:
            return None
        return StoredLease(record_of(lease), lease["metadata"]["resourceVersion"])

    def create(self, record: LeaseRecord) -> StoredLease:
        body = {
            "apiVersion": API,
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec_of(record),
        }
        created = self.kube.create_object(API, PLURAL, self.namespace, body)
        return StoredLease(record_of(created), created["metadata"]["resourceVersion"])

    def update(self, record: LeaseRecord, resource_version: str) -> StoredLease:
        """PUT with the resourceVersion read; ConflictError if anyone wrote in between."""
        body = {
            "apiVersion": API,
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "resourceVersion": resource_version,
            },
            "spec": spec_of(record),
        }
        updated = self.kube.replace_object(API, PLURAL, self.namespace, self.name, body)
        return StoredLease(record_of(updated), updated["metadata"]["resourceVersion"])
