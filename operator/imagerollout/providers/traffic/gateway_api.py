"""Gateway API: move the weights of a user-owned HTTPRoute's primary and canary backendRefs.

Only the `weight` of the two backendRefs changes. Every other rule, match, filter and backend
stays exactly as the user wrote it. The backends are Services here; inference_pool.py uses
the same router with InferencePool backendRefs.

Capabilities: one rule per capability, named `imagerollout-<capability>` (HTTPRoute rule names,
standard since Gateway API v1.2) so it is found again after a restart, placed above the user's
rules. It copies the matches and filters of the user's rule(s) to the two Services and adds the
capability's header matches, so a job is routed as before except for its backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imagerollout.core.observations import Backend as Weighted
from imagerollout.core.observations import CapabilityRoute, RouteView
from imagerollout.providers.traffic.router import Object, ObjectStore

API_VERSION = "gateway.networking.k8s.io/v1"
PLURAL = "httproutes"
RULE_PREFIX = "imagerollout-"


@dataclass(frozen=True)
class BackendKind:
    """What a backendRef points at: core Services unless group and kind say otherwise."""

    group: str = ""
    kind: str = "Service"

    def name_of(self, ref: dict[str, Any]) -> str | None:
        if ref.get("group", "") != self.group or ref.get("kind", "Service") != self.kind:
            return None
        name = ref.get("name")
        return str(name) if name is not None else None


SERVICE = BackendKind()


@dataclass
class GatewayAPIRouter:
    store: ObjectStore
    namespace: str
    route: str
    primary_service: str
    canary_service: str
    backend: BackendKind = SERVICE

    def observe(self) -> RouteView:
        obj = self.store.get_object(API_VERSION, PLURAL, self.namespace, self.route)
        if obj is None:
            return RouteView(error=f"HTTPRoute {self.route} not found")
        rules = self._managed_rules(obj)
        if not rules:
            return RouteView(error=self._no_rule_message())
        weights = {self._canary_share(rule) for rule in rules}
        return RouteView(canary_weight=weights.pop() if len(weights) == 1 else None)

    def set_weight(self, canary_weight: int) -> None:
        wanted = {self.primary_service: 100 - canary_weight, self.canary_service: canary_weight}

        def mutate(obj: Object) -> bool:
            rules = self._managed_rules(obj)
            if not rules:
                raise LookupError(self._no_rule_message())
            changed = False
            for rule in rules:
                for ref in rule["backendRefs"]:
                    name = self.backend.name_of(ref)
                    if name in wanted and ref.get("weight", 1) != wanted[name]:
                        ref["weight"] = wanted[name]
                        changed = True
            return changed

        self.store.update_object(API_VERSION, PLURAL, self.namespace, self.route, mutate)

    def observe_capabilities(self) -> tuple[CapabilityRoute, ...]:
        obj = self.store.get_object(API_VERSION, PLURAL, self.namespace, self.route)
        rules = obj.get("spec", {}).get("rules", []) if obj else []
        return tuple(_capability_route(r) for r in rules if _is_capability_rule(r))

    def route_capabilities(self, routes: Sequence[CapabilityRoute]) -> None:
        def mutate(obj: Object) -> bool:
            spec = obj.setdefault("spec", {})
            users = [r for r in spec.get("rules", []) if not _is_capability_rule(r)]
            template = self._managed_rules(obj)
            if routes and not template:
                raise LookupError(self._no_rule_message())
            ours = [_capability_rule(route, template) for route in routes]
            if spec.get("rules", []) == ours + users:
                return False
            spec["rules"] = ours + users
            return True

        self.store.update_object(API_VERSION, PLURAL, self.namespace, self.route, mutate)

    def _managed_rules(self, obj: Object) -> list[dict[str, Any]]:
        """The user's rules that list both Services (the operator's capability rules aside)."""
        both = {self.primary_service, self.canary_service}
        rules: list[dict[str, Any]] = obj.get("spec", {}).get("rules", [])
        return [
            r
            for r in rules
            if not _is_capability_rule(r)
            and both <= {self.backend.name_of(b) for b in r.get("backendRefs", [])}
        ]

    def _canary_share(self, rule: dict[str, Any]) -> int | None:
        by_name = {self.backend.name_of(b): int(b.get("weight", 1)) for b in rule["backendRefs"]}
        primary, canary = by_name[self.primary_service], by_name[self.canary_service]
        return canary if primary + canary == 100 else None

    def _no_rule_message(self) -> str:
        kind = f"{self.backend.kind} " if self.backend != SERVICE else ""
        return (
            f"HTTPRoute {self.route} has no rule with backendRefs to both {kind}"
            f"{self.primary_service} and {kind}{self.canary_service}"
        )


def _is_capability_rule(rule: dict[str, Any]) -> bool:
    return str(rule.get("name", "")).startswith(RULE_PREFIX)


def _capability_rule(route: CapabilityRoute, template: list[dict[str, Any]]) -> dict[str, Any]:
    """The user's matches (each with the capability's headers) and filters, our backends."""
    headers = [{"type": "Exact", "name": n, "value": v} for n, v in route.headers]
    matches = [m for rule in template for m in rule.get("matches", [])] or [{}]
    rule: dict[str, Any] = {
        "name": f"{RULE_PREFIX}{route.name}",
        "matches": [{**m, "headers": [*m.get("headers", []), *headers]} for m in matches],
    }
    if template and template[0].get("filters"):
        rule["filters"] = template[0]["filters"]
    rule["backendRefs"] = [  # with the API server's defaults, so a read compares equal
        {"group": "", "kind": "Service", "name": b.service, "port": b.port, "weight": b.weight}
        for b in route.backends
    ]
    return rule


def _capability_route(rule: dict[str, Any]) -> CapabilityRoute:
    first = (rule.get("matches") or [{}])[0]
    headers = tuple(
        (str(h["name"]), str(h["value"]))
        for h in first.get("headers", [])
        if h.get("type", "Exact") == "Exact"
    )
    backends = tuple(
        Weighted(str(b["name"]), int(b.get("port", 0)), int(b.get("weight", 1)))
        for b in rule.get("backendRefs", [])
    )
    return CapabilityRoute(str(rule["name"])[len(RULE_PREFIX) :], headers, backends)
