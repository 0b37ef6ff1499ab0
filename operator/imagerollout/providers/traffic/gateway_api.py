"""Gateway API: move the weights of a user-owned HTTPRoute's primary and canary backendRefs.

Only the `weight` of the two backendRefs changes. Every other rule, match, filter and backend
stays exactly as the user wrote it. The backends are Services here; inference_pool.py uses
the same router with InferencePool backendRefs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagerollout.core.observations import RouteView
from imagerollout.providers.traffic.router import Object, ObjectStore

API_VERSION = "gateway.networking.k8s.io/v1"
PLURAL = "httproutes"


@dataclass(frozen=True)
class Backend:
    """What a backendRef points at: core Services unless group and kind say otherwise."""

    group: str = ""
    kind: str = "Service"

    def name_of(self, ref: dict[str, Any]) -> str | None:
        if ref.get("group", "") != self.group or ref.get("kind", "Service") != self.kind:
            return None
        name = ref.get("name")
        return str(name) if name is not None else None


SERVICE = Backend()


@dataclass
class GatewayAPIRouter:
    store: ObjectStore
    namespace: str
    route: str
    primary_service: str
    canary_service: str
    backend: Backend = SERVICE

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

    def _managed_rules(self, obj: Object) -> list[dict[str, Any]]:
        both = {self.primary_service, self.canary_service}
        rules: list[dict[str, Any]] = obj.get("spec", {}).get("rules", [])
        return [
            r for r in rules if both <= {self.backend.name_of(b) for b in r.get("backendRefs", [])}
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
