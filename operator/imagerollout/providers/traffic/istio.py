"""Istio: move the weights of a user-owned VirtualService's primary and canary destinations.

A managed route is an HTTP route (spec.http[]) whose destinations include both arms: the
<rollout>-primary and <rollout>-canary Services, or, with a DestinationRule, its host's
primary and canary subsets. Only their `weight` changes; other routes, matches, retries,
headers and destinations stay as the user wrote them. `routes` narrows the managed routes
to those named, as Argo Rollouts' virtualService.routes does.

Capabilities: one HTTP route per capability, named `imagerollout-<rollout>.<capability>` (a
capability name has no dot, so two rollouts sharing a VirtualService never claim each other's
routes), placed above the user's routes: Istio takes the first route that matches. It copies
the weighted route's matches (each with the capability's headers added) and everything else
but its destinations (retries, headers, rewrite...), and routes to the plan's backends: an arm
as the weighted route spells it (host, port, subset), any other Service (a fallback, a
specialist) by its name and port.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagerollout.core.observations import Backend, CapabilityRoute, RouteView
from imagerollout.providers.traffic.router import Object, ObjectStore

API_VERSION = "networking.istio.io/v1"
VIRTUAL_SERVICES = "virtualservices"
DESTINATION_RULES = "destinationrules"
PRIMARY, CANARY = "primary", "canary"
ROUTE_PREFIX = "imagerollout-"


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
    rollout: str = ""  # names the capability routes
    port: int = 0  # spec.service.port: the plan's port for the two arms

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

    def observe_capabilities(self) -> tuple[CapabilityRoute, ...]:
        obj = self.store.get_object(
            API_VERSION, VIRTUAL_SERVICES, self.namespace, self.virtual_service
        )
        try:
            arms = self._arms()
        except RoutingError:  # observe() reports it, and nothing is routed until it is fixed
            return ()
        http = (obj or {}).get("spec", {}).get("http") or []
        return tuple(self._capability_route(r, arms) for r in http if self._ours(r))

    def route_capabilities(self, routes: Sequence[CapabilityRoute]) -> None:
        arms = self._arms() if routes else {}  # removing ours needs no DestinationRule

        def mutate(obj: Object) -> bool:
            spec = obj.setdefault("spec", {})
            http = spec.get("http") or []
            ours = []
            if routes:
                template = self._managed(obj, arms)
                ours = [self._capability_http(route, template, arms) for route in routes]
            wanted = ours + [r for r in http if not self._ours(r)]
            if http == wanted:
                return False
            spec["http"] = wanted
            return True

        self.store.update_object(
            API_VERSION, VIRTUAL_SERVICES, self.namespace, self.virtual_service, mutate
        )

    def _ours(self, route: dict[str, Any]) -> bool:
        name = str(route.get("name", ""))
        return name.startswith(ROUTE_PREFIX) and name.rpartition(".")[0] == self._prefix()

    def _prefix(self) -> str:
        return f"{ROUTE_PREFIX}{self.rollout}"

    def _capability_http(
        self,
        route: CapabilityRoute,
        template: list[dict[str, Any]],
        arms: dict[tuple[str, str], str],
    ) -> dict[str, Any]:
        """The weighted route's matches with the capability's headers, its other fields, and
        the plan's destinations."""
        headers = {name: {"exact": value} for name, value in route.headers}
        matches = [m for r in template for m in (r.get("match") or [{}])]
        spelled = {
            arms[k]: d["destination"] for d in _dests(template[0]) if (k := self._k(d)) in arms
        }
        by_service = {self.primary_service: spelled[PRIMARY], self.canary_service: spelled[CANARY]}
        kept = {k: v for k, v in template[0].items() if k not in ("name", "match", "route")}
        return {
            "name": f"{self._prefix()}.{route.name}",
            "match": [{**m, "headers": {**m.get("headers", {}), **headers}} for m in matches],
            **copy.deepcopy(kept),
            "route": [
                {
                    "destination": copy.deepcopy(by_service.get(b.service))
                    or {"host": b.service, "port": {"number": b.port}},
                    "weight": b.weight,
                }
                for b in route.backends
            ],
        }

    def _capability_route(
        self, route: dict[str, Any], arms: dict[tuple[str, str], str]
    ) -> CapabilityRoute:
        first = (route.get("match") or [{}])[0]
        headers = tuple(
            sorted(
                (str(n), str(m["exact"]))
                for n, m in first.get("headers", {}).items()
                if "exact" in m
            )
        )
        services = {PRIMARY: self.primary_service, CANARY: self.canary_service}
        dests = _dests(route)
        backends = []
        for d in dests:
            arm = arms.get(self._k(d))
            destination = d.get("destination") or {}
            weight = int(d.get("weight", 100 if len(dests) == 1 else 0))
            if arm is not None:
                backends.append(Backend(services[arm], self.port, weight))
            else:
                port = int((destination.get("port") or {}).get("number", 0))
                backends.append(Backend(self._k(d)[0], port, weight))
        name = str(route["name"])[len(self._prefix()) + 1 :]
        return CapabilityRoute(name, headers, tuple(backends))

    def _k(self, dest: dict[str, Any]) -> tuple[str, str]:
        return _key(dest, self.namespace)

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
        http = [
            r
            for r in obj.get("spec", {}).get("http") or []
            if not str(r.get("name", "")).startswith(ROUTE_PREFIX)  # an operator's
        ]
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
