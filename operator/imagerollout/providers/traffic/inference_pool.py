"""Gateway API Inference Extension: an HTTPRoute rule split between two InferencePools.

The route's backendRefs are `{group: inference.networking.k8s.io, kind: InferencePool}`
(v1), the primary pool selecting the <rollout>-primary pods and the canary pool the target's.
Only those two weights change; the pools themselves are the user's and are only read, to say
clearly when one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from imagerollout.core.observations import RouteView
from imagerollout.providers.traffic.gateway_api import BackendKind, GatewayAPIRouter
from imagerollout.providers.traffic.router import ObjectStore

GROUP = "inference.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
PLURAL = "inferencepools"
POOL = BackendKind(group=GROUP, kind="InferencePool")


@dataclass
class InferencePoolRouter:
    store: ObjectStore
    namespace: str
    route: str
    primary_pool: str
    canary_pool: str
    _route: GatewayAPIRouter = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._route = GatewayAPIRouter(
            self.store, self.namespace, self.route, self.primary_pool, self.canary_pool, POOL
        )

    def observe(self) -> RouteView:
        for pool in (self.primary_pool, self.canary_pool):
            if self.store.get_object(API_VERSION, PLURAL, self.namespace, pool) is None:
                return RouteView(error=f"InferencePool {pool} ({API_VERSION}) not found")
        return self._route.observe()

    def set_weight(self, canary_weight: int) -> None:
        self._route.set_weight(canary_weight)
