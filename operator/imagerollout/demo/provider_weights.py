"""What an Istio VirtualService, or the pods behind one Service, say about the split.

The demo has no data plane; these readers stand in for one, as traffic.py's HTTPRoute reader
does for Gateway API. A VirtualService splits by its destinations' weights (a subset counts as
`host/subset`); a plain Service spreads requests over its ready pods, so with a replica split
`<rollout>-primary` and `<rollout>-canary` weigh their Deployments' available replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from imagerollout.providers.traffic import istio

if TYPE_CHECKING:  # the kubernetes client is imported late (see traffic.main)
    from imagerollout.kube.client import Kube


def weights_from_virtual_service(virtual_service: Mapping[str, Any]) -> dict[str, int]:
    """Sum destination weights by host (and subset) over the HTTP routes. As in Istio, a
    single destination takes everything and, among several, an unset weight is 0."""
    totals: dict[str, int] = {}
    for route in virtual_service.get("spec", {}).get("http") or []:
        destinations = route.get("route") or []
        for dest in destinations:
            target = dest.get("destination") or {}
            name = str(target.get("host", "")).split(".")[0]
            if target.get("subset"):
                name = f"{name}/{target['subset']}"
            weight = dest.get("weight", 100 if len(destinations) == 1 else 0)
            totals[name] = totals.get(name, 0) + int(weight)
    return totals


def virtual_service_weights(kube: Kube, namespace: str, name: str) -> dict[str, int]:
    obj = kube.get_object(istio.API_VERSION, istio.VIRTUAL_SERVICES, namespace, name)
    if obj is None:
        raise LookupError(f"VirtualService {namespace}/{name} not found")
    return weights_from_virtual_service(obj)


def available(deployment: Mapping[str, Any] | None) -> int:
    return int(((deployment or {}).get("status") or {}).get("availableReplicas") or 0)


def pod_weights(kube: Kube, namespace: str, rollout: str, target: str) -> dict[str, int]:
    primary = kube.get_object("apps/v1", "deployments", namespace, f"{rollout}-primary")
    canary = kube.get_object("apps/v1", "deployments", namespace, target)
    return {f"{rollout}-primary": available(primary), f"{rollout}-canary": available(canary)}
