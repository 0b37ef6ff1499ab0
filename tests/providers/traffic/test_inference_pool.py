from __future__ import annotations

from imagerollout.providers.traffic import gateway_api
from imagerollout.providers.traffic.inference_pool import (
    API_VERSION,
    GROUP,
    PLURAL,
    InferencePoolRouter,
)
from tests.providers.traffic.store import FakeStore, Object

POOL = {"group": GROUP, "kind": "InferencePool"}


def setup(*pools: str) -> FakeStore:
    store = FakeStore()
    for name in pools:
        store.put(API_VERSION, PLURAL, {"metadata": {"name": name}, "spec": {}})
    rules: list[Object] = [
        {
            "backendRefs": [
                {**POOL, "name": "pool-v1", "weight": 100},
                {**POOL, "name": "pool-v2", "weight": 0},
                {"name": "pool-v2", "port": 80, "weight": 7},  # a Service of the same name
            ]
        },
        {"backendRefs": [{**POOL, "name": "other-pool"}]},
    ]
    route = {"metadata": {"name": "llm"}, "spec": {"rules": rules}}
    store.put(gateway_api.API_VERSION, gateway_api.PLURAL, route)
    return store


def router(store: FakeStore) -> InferencePoolRouter:
    return InferencePoolRouter(store, "ns", "llm", "pool-v1", "pool-v2")


def test_splits_between_the_two_pools_only() -> None:
    store = setup("pool-v1", "pool-v2")
    router(store).set_weight(30)

    route = store.get_object(gateway_api.API_VERSION, gateway_api.PLURAL, "ns", "llm")
    assert route is not None
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [r["weight"] for r in refs] == [70, 30, 7]
    assert route["spec"]["rules"][1] == {"backendRefs": [{**POOL, "name": "other-pool"}]}
    assert router(store).observe().canary_weight == 30


def test_a_missing_pool_is_a_routing_error() -> None:
    error = router(setup("pool-v1")).observe().error
    assert error == "InferencePool pool-v2 (inference.networking.k8s.io/v1) not found"


def test_a_route_without_both_pools_is_a_routing_error() -> None:
    store = setup("pool-v1", "pool-v2", "other-pool")
    error = InferencePoolRouter(store, "ns", "llm", "pool-v1", "other-pool").observe().error
    assert error == (
        "HTTPRoute llm has no rule with backendRefs to both InferencePool pool-v1 and "
        "InferencePool other-pool"
    )
