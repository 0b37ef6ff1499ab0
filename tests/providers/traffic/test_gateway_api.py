from __future__ import annotations

import copy

import pytest

from imagerollout.providers.traffic.gateway_api import API_VERSION, PLURAL, GatewayAPIRouter
from tests.providers.traffic.store import FakeStore, Object


def route(*rules: list[Object]) -> Object:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {"matches": [{"path": {"value": f"/{i}"}}], "backendRefs": refs}
                for i, refs in enumerate(rules)
            ],
        },
    }


ARMS = [
    {"name": "m-primary", "port": 80, "weight": 100},
    {"name": "m-canary", "port": 80, "weight": 0},
]
OTHER = [{"name": "docs", "port": 80}]


def router(store: FakeStore) -> GatewayAPIRouter:
    return GatewayAPIRouter(store, "ns", "web", "m-primary", "m-canary")


def test_moves_only_the_two_weights_and_leaves_other_rules() -> None:
    store = FakeStore()
    before = store.put(API_VERSION, PLURAL, route(copy.deepcopy(ARMS), OTHER))
    before = copy.deepcopy(before)
    router(store).set_weight(25)

    after = store.get_object(API_VERSION, PLURAL, "ns", "web")
    assert after is not None
    assert [r["weight"] for r in after["spec"]["rules"][0]["backendRefs"]] == [75, 25]
    assert after["spec"]["rules"][1] == before["spec"]["rules"][1]
    assert after["spec"]["parentRefs"] == before["spec"]["parentRefs"]
    assert router(store).observe().canary_weight == 25


def test_a_same_named_backend_of_another_kind_is_not_an_arm() -> None:
    store = FakeStore()
    pools = [
        {**ref, "group": "inference.networking.k8s.io", "kind": "InferencePool"} for ref in ARMS
    ]
    store.put(API_VERSION, PLURAL, route(pools))
    assert router(store).observe().error == (
        "HTTPRoute web has no rule with backendRefs to both m-primary and m-canary"
    )
    with pytest.raises(LookupError):
        router(store).set_weight(5)


def test_a_missing_route_is_a_routing_error() -> None:
    assert router(FakeStore()).observe().error == "HTTPRoute web not found"
