"""The caches: which optional kinds get an informer, and reads that stay live until it synced."""

from __future__ import annotations

from typing import Any

from imagerollout.kube.cache import (
    DESTINATION_RULES,
    IF_SERVED,
    INFERENCE_POOLS,
    VIRTUAL_SERVICES,
    CachedKube,
    Caches,
    served,
)
from imagerollout.kube.client import Kube, NotFoundError
from imagerollout.kube.informer import OnChange, Resource

Object = dict[str, Any]


class Discovery(Kube):
    """The API server's discovery documents: group/version -> the plurals it serves."""

    def __init__(self, groups: dict[str, list[str]]) -> None:
        super().__init__(api=object())  # type: ignore[arg-type]
        self.groups = groups

    def list_path(self, path: str, query: dict[str, str]) -> Object:
        group = path.removeprefix("/apis/")
        if group == "down/v1":
            raise ConnectionError("refused")
        if group not in self.groups:
            raise NotFoundError(404, "404 page not found")
        return {"kind": "APIResourceList", "resources": [{"name": n} for n in self.groups[group]]}


def test_only_the_kinds_whose_crds_are_served_are_cached() -> None:
    istio_only = Discovery({"networking.istio.io/v1": ["virtualservices", "destinationrules"]})
    assert served(istio_only, IF_SERVED) == (VIRTUAL_SERVICES, DESTINATION_RULES)
    assert served(Discovery({}), IF_SERVED) == ()
    pools = Discovery({"inference.networking.k8s.io/v1": ["inferencepools"]})
    assert served(pools, IF_SERVED) == (INFERENCE_POOLS,)
    assert served(pools, [Resource("down/v1", "things")]) == (), "unreachable: not watched"


class LiveReads(CachedKube):
    def __init__(self, caches: Caches) -> None:
        super().__init__(caches, api=object())  # type: ignore[arg-type]
        self.calls: list[tuple[str, str]] = []

    def _call(self, method: str, path: str, *args: Any, **kwargs: Any) -> Object:
        self.calls.append((method, path))
        return {"metadata": {"namespace": "ns", "name": "vs", "resourceVersion": "1"}}


def ignore(kind: Resource) -> OnChange:
    return lambda old, new: None


def test_reads_are_live_until_the_informer_has_synced() -> None:
    caches = Caches(Discovery({}), ["ns"], ignore, kinds=(VIRTUAL_SERVICES,))
    kube = LiveReads(caches)
    api = VIRTUAL_SERVICES.api_version
    # Not listed yet (or refused for want of RBAC): an empty cache would say "not found".
    assert kube.get_object(api, "virtualservices", "ns", "vs") is not None
    assert kube.calls == [("GET", "/apis/networking.istio.io/v1/namespaces/ns/virtualservices/vs")]
    assert not caches.watching("virtualservices", "ns")

    informer = caches.informer(VIRTUAL_SERVICES, "ns")
    assert informer is not None
    informer.synced.set()
    assert kube.get_object(api, "virtualservices", "ns", "vs") is None  # the cache: not there
    assert len(kube.calls) == 1
    assert caches.watching("virtualservices", "ns")
    assert not caches.watching("virtualservices", "elsewhere")
    assert not caches.watching("inferencepools", "ns"), "no informer: the CRD was not served"
