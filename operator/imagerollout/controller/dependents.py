"""Which rollouts an object's change concerns: its target and primary Deployments, its two
Services, its capabilities' fallback Deployments and Services, and what its traffic provider
reads (an HTTPRoute; a VirtualService and its DestinationRule; an HTTPRoute and two
InferencePools; the Service users reach). Built from the rollouts' specs and pins as they come
and go."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from imagerollout.kube import objects

Object = dict[str, Any]
RolloutKey = tuple[str, str]
Ref = tuple[str, str, str]  # (plural, namespace, name)


def references(rollout: Object) -> set[Ref]:
    """The objects a rollout reads, from its raw spec (an unreadable spec references less)."""
    meta, spec = rollout["metadata"], rollout.get("spec") or {}
    namespace, name = meta["namespace"], meta["name"]
    refs = {
        ("deployments", namespace, objects.primary_name(name)),
        ("services", namespace, objects.primary_name(name)),
        ("services", namespace, objects.canary_name(name)),
    }
    target = _field(spec, "targetRef", "name")
    if target:
        refs.add(("deployments", namespace, target))
    for capability in _fallbacks(rollout):  # its pods getting ready lets a promotion go on
        fallback = objects.fallback_name(name, capability)
        refs |= {("deployments", namespace, fallback), ("services", namespace, fallback)}
    routing = spec.get("trafficRouting")
    for plural, path in ROUTING_REFS:
        referenced = _field(routing, *path)
        if referenced:
            refs.add((plural, namespace, referenced))
    return refs


# What each provider reads, by its field in spec.trafficRouting.
ROUTING_REFS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("httproutes", ("gatewayAPI", "httpRoute", "name")),
    ("httproutes", ("inferencePool", "httpRoute", "name")),
    ("inferencepools", ("inferencePool", "primaryPool")),
    ("inferencepools", ("inferencePool", "canaryPool")),
    ("virtualservices", ("istio", "virtualService", "name")),
    ("destinationrules", ("istio", "destinationRule", "name")),
    ("services", ("replicas", "service", "name")),
)


def _fallbacks(rollout: Object) -> set[str]:
    """The capabilities that may have a fallback Deployment: listed in spec, or pinned."""
    listed = (rollout.get("spec") or {}).get("capabilities") or []
    pins = (rollout.get("status") or {}).get("pins") or []
    names = [_field(c, "name") for c in listed] + [_field(p, "capability") for p in pins]
    return {n for n in names if n}


def _field(obj: Any, *path: str) -> str | None:
    for part in path:
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj if isinstance(obj, str) else None


class Dependents:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ref: dict[Ref, set[RolloutKey]] = defaultdict(set)
        self._refs: dict[RolloutKey, set[Ref]] = {}

    def track(self, rollout: Object) -> None:
        key = (rollout["metadata"]["namespace"], rollout["metadata"]["name"])
        refs = references(rollout)
        with self._lock:
            self._drop(key)
            self._refs[key] = refs
            for ref in refs:
                self._by_ref[ref].add(key)

    def forget(self, key: RolloutKey) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: RolloutKey) -> None:
        for ref in self._refs.pop(key, set()):
            keys = self._by_ref[ref]
            keys.discard(key)
            if not keys:
                del self._by_ref[ref]

    def refs(self, key: RolloutKey) -> set[Ref]:
        with self._lock:
            return set(self._refs.get(key, ()))

    def of(self, plural: str, obj: Object) -> set[RolloutKey]:
        meta = obj["metadata"]
        with self._lock:
            return set(self._by_ref.get((plural, meta.get("namespace", ""), meta["name"]), ()))
