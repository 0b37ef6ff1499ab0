"""Record every canary weight the API server stores on a route object, from a real watch.

RouteWatch follows one HTTPRoute by default; `resource` and `weight` make it follow any
object (a VirtualService, a Deployment's annotation), and `name=None` every object of that
resource in the namespace (`weight` then sees each in the order the API server stored them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from kubernetes import client, config, watch
from urllib3.exceptions import ProtocolError

CANARY = "imagegen-canary"
HTTPROUTES = ("gateway.networking.k8s.io", "v1", "httproutes")
T = TypeVar("T")


def canary_weight(route: dict[str, Any]) -> int | None:
    for rule in route["spec"].get("rules", []):
        for ref in rule.get("backendRefs", []):
            if ref.get("name") == CANARY:
                return int(ref.get("weight", 1))
    return None


class ObjectWatch(Generic[T]):
    """Distinct values of `value(object)` in the order the API server stored them, with times."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        name: str | None,
        resource: tuple[str, str, str],
        value: Callable[[dict[str, Any]], T | None],
    ) -> None:
        self.seen: list[tuple[float, T]] = []
        api = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
        self._custom = client.CustomObjectsApi(api)
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._namespace, self._name, self._resource, self._value = namespace, name, resource, value
        self._ready = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError(f"the {resource[2]} watch did not start")

    def _read(self) -> None:
        group, version, plural = self._resource
        selector = {"field_selector": f"metadata.name={self._name}"} if self._name else {}
        stream = self._watch.stream(  # type: ignore[no-untyped-call]
            self._custom.list_namespaced_custom_object,
            group,
            version,
            self._namespace,
            plural,
            timeout_seconds=600,
            **selector,
        )
        try:
            for event in stream:
                self._record(event["object"])
        except ProtocolError:
            if not self._stopped:
                raise

    def _record(self, obj: dict[str, Any]) -> None:
        value = self._value(obj)
        if value is not None and (not self.seen or self.seen[-1][1] != value):
            self.seen.append((time.monotonic(), value))
        self._ready.set()

    @property
    def values(self) -> list[T]:
        return [value for _, value in self.seen]

    def first_time_at(self, value: T, after: float) -> float | None:
        return next((t for t, v in self.seen if v == value and t >= after), None)

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()  # type: ignore[no-untyped-call]


class RouteWatch(ObjectWatch[int]):
    """Distinct canary weights of one route object, HTTPRoute unless `resource` says otherwise."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        route: str,
        resource: tuple[str, str, str] = HTTPROUTES,
        weight: Callable[[dict[str, Any]], int | None] = canary_weight,
    ) -> None:
        super().__init__(kubeconfig, namespace, route, resource, weight)

    @property
    def weights(self) -> list[int]:
        return self.values
