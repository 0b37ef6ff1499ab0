"""What an Istio VirtualService, or the pods behind one Service, say about the split.

The demo has no data plane; these readers stand in for one, as traffic.py's HTTPRoute reader
does for Gateway API. A VirtualService splits by its destinations' weights (a subset counts as
`host/subset`); a plain Service spreads requests over its ready pods, so with a replica split
`<rollout>-primary` and `<rollout>-canary` weigh their Deployments' available replicas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from imagerollout.providers.traffic import istio

if TYPE_CHECKING:  # the kubernetes client is imported late (see traffic.main)
    from imagerollout.kube.client import Kube


def weights_from_virtual_service(
    virtual_service: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> dict[str, int]:
    """Sum destination weights by host (and subset) over the HTTP routes a request with
    `headers` takes. As in Istio, a single destination takes everything and, among several,
    an unset weight is 0. Paths are not modelled: the routes whose header matches the request
    satisfies most win, so a request without headers never takes a capability's route."""
    routes = virtual_service.get("spec", {}).get("http") or []
    matched = [(r, _header_matches(r, headers or {})) for r in routes]
    best = max((n for _, n in matched if n is not None), default=0)
    totals: dict[str, int] = {}
    for route in (r for r, n in matched if n == best):
        destinations = route.get("route") or []
        for dest in destinations:
            target = dest.get("destination") or {}
            name = str(target.get("host", "")).split(".")[0]
            if target.get("subset"):
                name = f"{name}/{target['subset']}"
            weight = dest.get("weight", 100 if len(destinations) == 1 else 0)
            totals[name] = totals.get(name, 0) + int(weight)
    return totals


def _header_matches(route: Mapping[str, Any], headers: Mapping[str, str]) -> int | None:
    """How many header conditions of the route's best match entry the request satisfies;
    None: it satisfies none of its entries."""
    given = {name.lower(): value for name, value in headers.items()}
    best: int | None = None
    for match in route.get("match") or [{}]:
        wanted = match.get("headers") or {}
        if all(_string_match(given.get(n.lower()), m) for n, m in wanted.items()):
            best = max(best or 0, len(wanted))
    return best


def _string_match(value: str | None, match: Mapping[str, str]) -> bool:
    if value is None:
        return False
    if "exact" in match:
        return value == match["exact"]
    if "prefix" in match:
        return value.startswith(match["prefix"])
    return "regex" in match and re.fullmatch(match["regex"], value) is not None


def virtual_service_weights(
    kube: Kube, namespace: str, name: str, headers: Mapping[str, str] | None = None
) -> dict[str, int]:
    obj = kube.get_object(istio.API_VERSION, istio.VIRTUAL_SERVICES, namespace, name)
    if obj is None:
        raise LookupError(f"VirtualService {namespace}/{name} not found")
    return weights_from_virtual_service(obj, headers)


def available(deployment: Mapping[str, Any] | None) -> int:
    return int(((deployment or {}).get("status") or {}).get("availableReplicas") or 0)


def pod_weights(kube: Kube, namespace: str, rollout: str, target: str) -> dict[str, int]:
    primary = kube.get_object("apps/v1", "deployments", namespace, f"{rollout}-primary")
    canary = kube.get_object("apps/v1", "deployments", namespace, target)
    return {f"{rollout}-primary": available(primary), f"{rollout}-canary": available(canary)}
