"""The reconciler's reads served from informers; its writes go to the API and into the cache.

CachedKube has Kube's interface, so the reconciler does not know whether it reads live or
cached objects. Kinds without an informer (Secrets, suite ConfigMaps: read by name only, so
the operator needs no list or watch on them) are still read live, and so is every kind until
its informer has synced (a list refused for want of RBAC then costs reads, not wrong answers).

The other providers' kinds (Istio's VirtualServices and DestinationRules, the Inference
Extension's InferencePools) are cached only where their CRDs are served (`served`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes import client

from imagerollout import GROUP, PLURAL, VERSION
from imagerollout.kube.client import ApiError, Kube, NotFoundError, count_request
from imagerollout.kube.events import EventRecorder
from imagerollout.kube.informer import Informer, OnChange, Resource

Object = dict[str, Any]
ROLLOUTS = Resource(f"{GROUP}/{VERSION}", PLURAL)
DEPLOYMENTS = Resource("apps/v1", "deployments")
SERVICES = Resource("v1", "services")
HTTPROUTES = Resource("gateway.networking.k8s.io/v1", "httproutes")
CACHED = (ROLLOUTS, DEPLOYMENTS, SERVICES, HTTPROUTES)
VIRTUAL_SERVICES = Resource("networking.istio.io/v1", "virtualservices")
DESTINATION_RULES = Resource("networking.istio.io/v1", "destinationrules")
INFERENCE_POOLS = Resource("inference.networking.k8s.io/v1", "inferencepools")
IF_SERVED = (VIRTUAL_SERVICES, DESTINATION_RULES, INFERENCE_POOLS)  # CRDs a cluster may lack
log = logging.getLogger(__name__)
EVENT_SENDERS = 4
CONFLICT_WAIT = 2.0  # seconds to wait for the watch to bring the newer object


class Caches:
    """One informer per cached kind and watched namespace (or one per kind cluster-wide)."""

    def __init__(
        self,
        kube: Kube,
        namespaces: Iterable[str] | None,
        on_change: Callable[[Resource], OnChange],
        kinds: Iterable[Resource] = CACHED,
    ) -> None:
        self.scopes: list[str | None] = list(namespaces) if namespaces else [None]
        self.kinds = tuple(kinds)
        self.informers: dict[tuple[Resource, str | None], Informer] = {
            (kind, scope): Informer(kube, kind, scope, on_change(kind))
            for kind in self.kinds
            for scope in self.scopes
        }

    def start(self) -> None:
        for informer in self.informers.values():
            informer.start()

    def wait_synced(self, timeout: float, kinds: Iterable[Resource] | None = None) -> bool:
        """Wait for the informers of `kinds` (default: all) to have listed once."""
        wanted = set(self.kinds if kinds is None else kinds)
        return all(i.synced.wait(timeout) for (k, _), i in self.informers.items() if k in wanted)

    def watching(self, plural: str, namespace: str) -> bool:
        """Whether a synced informer reports changes to this kind in this namespace."""
        kind = next((k for k in self.kinds if k.plural == plural), None)
        informer = None if kind is None else self.informer(kind, namespace)
        return informer is not None and informer.synced.is_set()

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    def informer(self, kind: Resource, namespace: str) -> Informer | None:
        scope = namespace if self.scopes != [None] else None
        return self.informers.get((kind, scope))

    def items(self, kind: Resource) -> list[Object]:
        return [o for (k, _), i in self.informers.items() if k == kind for o in i.items()]


def served(kube: Kube, kinds: Iterable[Resource]) -> tuple[Resource, ...]:
    """The kinds the API server serves now (discovery: GET /apis/<group>/<version>)."""
    plurals: dict[str, set[str]] = {}
    for api_version in {kind.api_version for kind in kinds}:
        try:
            found = kube.list_path(f"/apis/{api_version}", {}).get("resources") or []
        except ApiError:  # 404: the group's CRDs are not installed
            found = []
        except Exception as error:  # unreachable: read live, and look at routing errors again
            log.warning("discovery of %s failed (%r): not watching it", api_version, error)
            found = []
        plurals[api_version] = {str(r.get("name")) for r in found}
    return tuple(k for k in kinds if k.plural in plurals[k.api_version])


def pooled_client(connections: int) -> client.ApiClient:
    """An API client whose pool keeps `connections` open: each thread that calls at once
    (a watch, a worker, an event sender) reuses one instead of a new TLS handshake."""
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


class CachedKube(Kube):
    def __init__(self, caches: Caches, api: client.ApiClient | None = None) -> None:
        super().__init__(api)
        self.caches = caches
        self.events = EventRecorder(super().emit_event, EVENT_SENDERS)

    def emit_event(self, rollout: Object, reason: str, message: str, warning: bool) -> None:
        """Queued, not posted inline: the pass goes on (kube/events.py)."""
        count_request()  # the pass's cost includes the event it caused
        self.events.record(rollout, reason, message, warning)

    def _informer(self, api_version: str, plural: str, namespace: str) -> Informer | None:
        """The kind's informer once it has synced; None: read and write live."""
        informer = self.caches.informer(Resource(api_version, plural), namespace)
        return informer if informer is not None and informer.synced.is_set() else None

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> Object | None:
        informer = self._informer(api_version, plural, namespace)
        if informer is None:
            return super().get_object(api_version, plural, namespace, name)
        return informer.get(namespace, name)

    def get_rollout(self, namespace: str, name: str) -> Object | None:
        return self.get_object(ROLLOUTS.api_version, ROLLOUTS.plural, namespace, name)

    def _stored(self, api_version: str, plural: str, namespace: str, obj: Object) -> Object:
        informer = self._informer(api_version, plural, namespace)
        if informer is not None:
            informer.put(copy.deepcopy(obj))
        return obj

    def create_object(self, api_version: str, plural: str, namespace: str, body: Object) -> Object:
        created = super().create_object(api_version, plural, namespace, body)
        return self._stored(api_version, plural, namespace, created)

    def update_object(
        self,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        mutate: Callable[[Object], bool],
    ) -> None:
        """Mutate a copy of the cached object and PUT it: no GET. A conflict means the cache
        is behind; it propagates, and the pass is redone once the watch caught up."""
        informer = self._informer(api_version, plural, namespace)
        if informer is None:
            super().update_object(api_version, plural, namespace, name, mutate)
            return
        cached = informer.get(namespace, name)
        if cached is None:
            raise NotFoundError(404, f'{plural} "{name}" not found')
        obj = copy.deepcopy(cached)
        if mutate(obj):
            written = self.put_object(api_version, plural, namespace, name, obj)
            informer.put(written)

    def merge_patch(
        self, api_version: str, plural: str, namespace: str, name: str, patch: Object
    ) -> Object:
        patched = super().merge_patch(api_version, plural, namespace, name, patch)
        return self._stored(api_version, plural, namespace, patched)

    def write_rollout_status(
        self, namespace: str, name: str, resource_version: str, status: Object
    ) -> Object:
        written = super().write_rollout_status(namespace, name, resource_version, status)
        return self._stored(ROLLOUTS.api_version, ROLLOUTS.plural, namespace, written)

    def await_change(self, namespace: str, name: str, resource_version: str) -> None:
        informer = self._informer(ROLLOUTS.api_version, ROLLOUTS.plural, namespace)
        if informer is not None:
            informer.wait_newer(namespace, name, resource_version, CONFLICT_WAIT)
