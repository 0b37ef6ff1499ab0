"""Record every canary weight the API server stores on an HTTPRoute, from a real watch."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from urllib3.exceptions import ProtocolError

CANARY = "imagegen-canary"


def canary_weight(route: dict[str, Any]) -> int | None:
    for rule in route["spec"].get("rules", []):
        for ref in rule.get("backendRefs", []):
            if ref.get("name") == CANARY:
                return int(ref.get("weight", 1))
    return None


class RouteWatch:
    """Distinct canary weights in the order the API server stored them, with times."""

    def __init__(self, kubeconfig: Path, namespace: str, route: str) -> None:
        self.seen: list[tuple[float, int]] = []
        api = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
        self._custom = client.CustomObjectsApi(api)
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._args = (namespace, route)
        self._ready = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("the HTTPRoute watch did not start")

    def _read(self) -> None:
        namespace, route = self._args
        stream = self._watch.stream(  # type: ignore[no-untyped-call]
            self._custom.list_namespaced_custom_object,
            "gateway.networking.k8s.io",
            "v1",
            namespace,
            "httproutes",
            field_selector=f"metadata.name={route}",
            timeout_seconds=600,
        )
        try:
            for event in stream:
                self._record(event["object"])
        except ProtocolError:
            if not self._stopped:
                raise

    def _record(self, route: dict[str, Any]) -> None:
        weight = canary_weight(route)
        if weight is not None and (not self.seen or self.seen[-1][1] != weight):
            self.seen.append((time.monotonic(), weight))
        self._ready.set()

    @property
    def weights(self) -> list[int]:
        return [weight for _, weight in self.seen]

    def first_time_at(self, weight: int, after: float) -> float | None:
        return next((t for t, w in self.seen if w == weight and t >= after), None)

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()  # type: ignore[no-untyped-call]
