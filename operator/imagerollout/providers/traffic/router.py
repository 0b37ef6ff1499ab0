"""The small interface every traffic provider implements, and what it needs from the API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from imagerollout.core.observations import CapabilityRoute, RouteView

Object = dict[str, Any]


class TrafficRouter(Protocol):
    def observe(self) -> RouteView:
        """The canary weight now in effect, or why it cannot be read."""
        ...

    def set_weight(self, canary_weight: int) -> None:
        """Send canary_weight percent to the canary and the rest to the primary."""
        ...


class CapabilityRouter(Protocol):
    """A provider that routes requests by header: one operator-managed rule per capability."""

    def observe_capabilities(self) -> tuple[CapabilityRoute, ...]:
        """The operator's capability rules on the route now, in order."""
        ...

    def route_capabilities(self, routes: Sequence[CapabilityRoute]) -> None:
        """Make the operator's rules exactly `routes`, placed above the user's rules."""
        ...


class ObjectStore(Protocol):
    """The slice of the Kubernetes API a router uses (implemented by imagerollout.kube)."""

    def get_object(
        self, api_version: str, plural: str, namespace: str, name: str
    ) -> Object | None: ...

    def update_object(
        self,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        mutate: Callable[[Object], bool],
    ) -> None:
        """Read, mutate in place (False: nothing to change), write; retried on conflicts."""
        ...
