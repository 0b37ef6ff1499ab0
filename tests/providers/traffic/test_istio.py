from __future__ import annotations

import copy
from typing import Any

import pytest

from imagerollout.providers.traffic.istio import (
    API_VERSION,
    DESTINATION_RULES,
    VIRTUAL_SERVICES,
    IstioRouter,
    Subsets,
)
from tests.providers.traffic.store import FakeStore, Object


def dest(host: str, weight: int | None = None, subset: str | None = None) -> Object:
    destination: dict[str, Any] = {"host": host, "port": {"number": 8080}}
    if subset:
        destination["subset"] = subset
    out: Object = {"destination": destination}
    if weight is not None:
        out["weight"] = weight
    return out


def virtual_service(*http: Object) -> Object:
    return {"metadata": {"name": "vs"}, "spec": {"hosts": ["imagegen"], "http": list(http)}}


MAIN: Object = {
    "name": "main",
    "match": [{"uri": {"prefix": "/v1/images"}}],
    "retries": {"attempts": 2},
    "route": [dest("m-primary.ns.svc.cluster.local", 100), dest("m-canary")],
}
DRAFTS: Object = {"name": "drafts", "route": [dest("m-primary", 100), dest("m-canary", 0)]}
DOCS: Object = {"name": "docs", "route": [dest("docs")]}


def store_with(*http: Object) -> FakeStore:
    store = FakeStore()
    store.put(API_VERSION, VIRTUAL_SERVICES, virtual_service(*copy.deepcopy(http)))
    return store


def http(store: FakeStore) -> list[Object]:
    obj = store.get_object(API_VERSION, VIRTUAL_SERVICES, "ns", "vs")
    assert obj is not None
    routes: list[Object] = obj["spec"]["http"]
    return routes


def router(store: FakeStore, *routes: str, subsets: Subsets | None = None) -> IstioRouter:
    return IstioRouter(store, "ns", "vs", "m-primary", "m-canary", routes, subsets)


def test_moves_the_weights_of_every_route_with_both_arms_and_nothing_else() -> None:
    store = store_with(MAIN, DRAFTS, DOCS)
    assert router(store).observe().canary_weight == 0  # the canary's unset weight is 0
    router(store).set_weight(25)

    main, drafts, docs = http(store)
    assert [d["weight"] for d in main["route"]] == [75, 25]
    assert [d["weight"] for d in drafts["route"]] == [75, 25]
    assert {k: v for k, v in main.items() if k != "route"} == {
        k: v for k, v in MAIN.items() if k != "route"
    }
    assert main["route"][0]["destination"] == MAIN["route"][0]["destination"]
    assert docs == DOCS
    assert router(store).observe().canary_weight == 25


def test_routes_narrow_the_routes_that_move() -> None:
    store = store_with(MAIN, DRAFTS)
    router(store, "drafts").set_weight(50)

    main, drafts = http(store)
    assert [d.get("weight") for d in main["route"]] == [100, None]
    assert [d["weight"] for d in drafts["route"]] == [50, 50]
    assert router(store, "drafts").observe().canary_weight == 50
    assert router(store).observe().canary_weight is None  # main and drafts disagree


@pytest.mark.parametrize(
    ("http_routes", "names", "error"),
    [
        (
            (DOCS,),
            (),
            "VirtualService vs has no HTTP route with destinations to both m-primary and m-canary",
        ),
        ((MAIN,), ("canary",), "VirtualService vs has no HTTP route named canary"),
        (
            (MAIN, DOCS),
            ("main", "docs"),
            "VirtualService vs: HTTP route docs does not route to both m-primary and m-canary",
        ),
    ],
)
def test_a_virtual_service_that_cannot_carry_the_split_is_a_routing_error(
    http_routes: tuple[Object, ...], names: tuple[str, ...], error: str
) -> None:
    store = store_with(*http_routes)
    assert router(store, *names).observe().error == error
    with pytest.raises(LookupError):
        router(store, *names).set_weight(5)
    assert store.writes == 0


def test_a_missing_virtual_service_is_a_routing_error() -> None:
    error = router(FakeStore()).observe().error
    assert error == "VirtualService vs (networking.istio.io/v1) not found"


SUBSETS = Subsets("imagegen", "stable", "next")


def with_rule(*subsets: str) -> FakeStore:
    split = {
        "name": "main",
        "route": [dest("imagegen", 100, "stable"), dest("imagegen", 0, "next")],
    }
    store = store_with(split, DRAFTS)
    rule = {
        "metadata": {"name": "imagegen"},
        "spec": {
            "host": "imagegen.ns.svc",
            "subsets": [{"name": name, "labels": {"app": name}} for name in subsets],
        },
    }
    store.put(API_VERSION, DESTINATION_RULES, rule)
    return store


def test_with_a_destination_rule_the_subsets_are_the_arms() -> None:
    store = with_rule("stable", "next")
    router(store, subsets=SUBSETS).set_weight(5)

    main, drafts = http(store)
    assert [d["weight"] for d in main["route"]] == [95, 5]
    assert drafts == DRAFTS  # routes to the two Services are not the subsets' routes
    assert router(store, subsets=SUBSETS).observe().canary_weight == 5


def test_a_destination_rule_without_both_subsets_is_a_routing_error() -> None:
    error = router(with_rule("stable"), subsets=SUBSETS).observe().error
    assert error == "DestinationRule imagegen has no subset next"
    missing = router(store_with(MAIN), subsets=SUBSETS).observe().error
    assert missing == "DestinationRule imagegen (networking.istio.io/v1) not found"
