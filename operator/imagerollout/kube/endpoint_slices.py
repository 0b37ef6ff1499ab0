"""The ready endpoints of a Service, from its EndpointSlices, kept current by a watch.

An informer in miniature: list the slices labelled kubernetes.io/service-name=NAME, then watch
from that list's resourceVersion; on any error (a dropped stream, 410 Gone) list again. An
endpoint counts while its `ready` condition is not false (the API's rule: unset means ready).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kubernetes import client, watch

log = logging.getLogger(__name__)
SERVICE_LABEL = "kubernetes.io/service-name"
WATCH_SECONDS = 300
RETRY_SECONDS = 1.0


def ready_urls(slice_: Any, port_name: str | None, scheme: str = "http") -> list[str]:
    """Base URLs of a slice's ready endpoints on the named port (default: its first port)."""
    ports = [p for p in (slice_.ports or []) if port_name is None or p.name == port_name]
    if not ports or ports[0].port is None:
        return []
    port = ports[0].port
    urls = []
    for endpoint in slice_.endpoints or []:
        conditions = endpoint.conditions
        if conditions is not None and conditions.ready is False:
            continue
        for address in endpoint.addresses or []:
            host = f"[{address}]" if ":" in address else address
            urls.append(f"{scheme}://{host}:{port}")
    return urls


class EndpointSliceWatch:
    def __init__(
        self,
        namespace: str,
        service: str,
        port_name: str | None = None,
        api: client.ApiClient | None = None,
    ) -> None:
        self.namespace, self.service, self.port_name = namespace, service, port_name
        self._api = client.DiscoveryV1Api(api or client.ApiClient())
        self._slices: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listed = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name="endpointslices", daemon=True)

    def start(self, wait_s: float = 10) -> None:
        self._thread.start()
        self._listed.wait(wait_s)

    def ready(self) -> list[str]:
        with self._lock:
            return sorted({url for urls in self._slices.values() for url in urls})

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()  # type: ignore[no-untyped-call]

    def _run(self) -> None:
        failure = None
        while not self._stop.is_set():
            try:
                self._list_and_watch()
                failure = None
            except Exception as error:  # the API server restarted, a 410, a timeout: list again
                if str(error) != failure:
                    log.warning("EndpointSlices of %s/%s: %s", self.namespace, self.service, error)
                failure = str(error)
                self._stop.wait(RETRY_SECONDS)

    def _list_and_watch(self) -> None:
        selector = f"{SERVICE_LABEL}={self.service}"
        listed: Any = self._api.list_namespaced_endpoint_slice(
            self.namespace, label_selector=selector
        )
        with self._lock:
            self._slices = {
                s.metadata.name: ready_urls(s, self.port_name) for s in listed.items or []
            }
        self._listed.set()
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        for event in self._watch.stream(  # type: ignore[no-untyped-call]
            self._api.list_namespaced_endpoint_slice,
            self.namespace,
            label_selector=selector,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=WATCH_SECONDS,
        ):
            if self._stop.is_set():
                return
            slice_ = event["object"]
            if event["type"] == "ERROR" or not hasattr(slice_, "metadata"):
                raise RuntimeError(f"watch error: {slice_}")
            with self._lock:
                if event["type"] == "DELETED":
                    self._slices.pop(slice_.metadata.name, None)
                else:
                    self._slices[slice_.metadata.name] = ready_urls(slice_, self.port_name)
