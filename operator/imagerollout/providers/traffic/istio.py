"""Istio: move the weights of a user-owned VirtualService's primary and canary destinations.

A managed route is an HTTP route (spec.http[]) whose destinations include both arms: the
<rollout>-primary and <rollout>-canary Services, or, with a DestinationRule, its host's
primary and canary subsets. Only their `weight` changes; other routes, matches, retries,
headers and destinations stay as the user wrote them. `routes` narrows the managed routes
to those named, as Argo Rollouts' virtualService.routes does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagerollout.core.observations import RouteView
from imagerollout.providers.traffic.router import Object, ObjectStore

API_VERSION = "networking.istio.io/v1"
VIRTUAL_SERVICES = "virtualservices"
DESTINATION_RULES = "destinationrules"
PRIMARY, CANARY = "primary", "canary"


class RoutingError(LookupError):
    """The VirtualService or DestinationRule cannot carry the split; the message says why."""


@dataclass(frozen=True)
class Subsets:
    destination_rule: str
    primary: str
    canary: str


@dataclass
class IstioRouter:
    store: ObjectStore
    namespace: str
    virtual_service: str
    primary_service: str
    canary_service: str
    routes: tuple[str, ...] = ()
    subsets: Subsets | None = None

    def observe(self) -> RouteView:
        try:
            arms = self._arms()
            obj = self._get(VIRTUAL_SERVICES, self.virtual_service, "VirtualService")
            managed = self._managed(obj, arms)
        except RoutingError as error:
            return RouteView(error=str(error))
        weights = {_canary_share(route, arms, self.namespace) for route in managed}
        return RouteView(canary_weight=weights.pop() if len(weights) == 1 else None)

    def set_weight(self, canary_weight: int) -> None:
        arms = self._arms()
        wanted = {PRIMARY: 100 - canary_weight, CANARY: canary_weight}

        def mutate(obj: Object) -> bool:
            changed = False
            for route in self._managed(obj, arms):
                for dest in route["route"]:
                    arm = arms.get(_key(dest, self.namespace))
                    if arm is not None and dest.get("weight", 0) != wanted[arm]:
                        dest["weight"] = wanted[arm]
                        changed = True
            return changed

        self.store.update_object(
            API_VERSION, VIRTUAL_SERVICES, self.namespace, self.virtual_service, mutate
        )

    def _get(self, plural: str, name: str, kind: str) -> Object:
        obj = self.store.get_object(API_VERSION, plural, self.namespace, name)
        if obj is None:
            raise RoutingError(f"{kind} {name} ({API_VERSION}) not found")
        return obj

    def _arms(self) -> dict[tuple[str, str], str]:
        """(host, subset) of each arm's destination -> primary or canary."""
        if self.subsets is None:
            return {
                (self.primary_service, ""): PRIMARY,
                (self.canary_service, ""): CANARY,
            }
        name = self.subsets.destination_rule
        rule = self._get(DESTINATION_RULES, name, "DestinationRule")
        spec = rule.get("spec", {})
        listed = {s.get("name") for s in spec.get("subsets") or []}
        missing = [s for s in (self.subsets.primary, self.subsets.canary) if s not in listed]
        if missing:
            raise RoutingError(f"DestinationRule {name} has no subset {' or '.join(missing)}")
        host = _short_host(str(spec.get("host", "")), self.namespace)
        return {(host, self.subsets.primary): PRIMARY, (host, self.subsets.canary): CANARY}

    def _managed(self, obj: Object, arms: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
        http: list[dict[str, Any]] = obj.get("spec", {}).get("http") or []
        chosen = http
        if self.routes:
            names = {route.get("name") for route in http}
            if missing := [r for r in self.routes if r not in names]:
                raise RoutingError(
                    f"VirtualService {self.virtual_service} has no HTTP route named "
                    f"{', '.join(missing)}"
                )
            chosen = [route for route in http if route.get("name") in self.routes]
        both = set(arms)
        managed = [r for r in chosen if both <= {_key(d, self.namespace) for d in _dests(r)}]
        if self.routes and len(managed) < len(chosen):
            lacking = [str(r.get("name")) for r in chosen if r not in managed]
            raise RoutingError(
                f"VirtualService {self.virtual_service}: HTTP route {', '.join(lacking)} does "
                f"not route to both {self._arms_text(arms)}"
            )
        if not managed:
            raise RoutingError(
                f"VirtualService {self.virtual_service} has no HTTP route with destinations "
                f"to both {self._arms_text(arms)}"
            )
        return managed

    def _arms_text(self, arms: dict[tuple[str, str], str]) -> str:
        shown = [f"{host} subset {subset}" if subset else host for host, subset in arms]
        return " and ".join(shown)


def _dests(route: dict[str, Any]) -> list[dict[str, Any]]:
    return list(route.get("route") or [])


def _key(dest: dict[str, Any], namespace: str) -> tuple[str, str]:
    destination = dest.get("destination") or {}
    host = _short_host(str(destination.get("host", "")), namespace)
    return host, str(destination.get("subset") or "")


def _short_host(host: str, namespace: str) -> str:
    """A Service in the namespace, however it is spelled: name, name.ns, name.ns.svc, FQDN."""
    for suffix in (f".{namespace}.svc.cluster.local", f".{namespace}.svc", f".{namespace}"):
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def _canary_share(
    route: dict[str, Any], arms: dict[tuple[str, str], str], namespace: str
) -> int | None:
    # Istio: an unset weight on one of several destinations is 0.
    by_arm = {arms.get(_key(d, namespace)): int(d.get("weight", 0)) for d in _dests(route)}
    primary, canary = by_arm[PRIMARY], by_arm[CANARY]
    return canary if primary + canary == 100 else None
