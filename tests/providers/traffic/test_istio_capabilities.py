"""The Istio router's capability routes: first in spec.http, found by name, removed cleanly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from imagerollout.core.observations import Backend, CapabilityRoute
from imagerollout.providers.traffic.istio import IstioRouter, Subsets
from tests.providers.traffic.store import FakeStore, Object
from tests.providers.traffic.test_istio import (
    DOCS,
    DRAFTS,
    MAIN,
    SUBSETS,
    dest,
    http,
    store_with,
    with_rule,
)

JOB = (("x-image-job", "typography"),)
PINNED = CapabilityRoute("typography", JOB, (Backend("m-fallback-typography", 8080, 100),))
FOLLOWING = CapabilityRoute(
    "typography", JOB, (Backend("m-primary", 8080, 75), Backend("m-canary", 8080, 25))
)
HEADER = {"x-image-job": {"exact": "typography"}}
FALLBACK = {
    "destination": {"host": "m-fallback-typography", "port": {"number": 8080}},
    "weight": 100,
}
TENANT = {
    "name": "tenant",
    "match": [{"uri": {"prefix": "/a"}, "headers": {"x-tenant": {"exact": "a"}}}, {"port": 80}],
    "route": [dest("m-primary", 100), dest("m-canary", 0)],
}


def router(store: FakeStore, *routes: str, subsets: Subsets | None = None) -> IstioRouter:
    return IstioRouter(
        store, "ns", "vs", "m-primary", "m-canary", routes, subsets, rollout="m", port=8080
    )


@dataclass(frozen=True)
class Case:
    id: str
    store: FakeStore
    route: CapabilityRoute
    wanted: Object  # the operator's HTTP route
    subsets: Subsets | None = None


CASES = [
    Case(  # the weighted route's match and retries; the fallback Service by name and port
        "pinned-to-the-fallback",
        store_with(DOCS, MAIN),
        PINNED,
        {
            "name": "imagerollout-m.typography",
            "match": [{"uri": {"prefix": "/v1/images"}, "headers": HEADER}],
            "retries": {"attempts": 2},
            "route": [FALLBACK],
        },
    ),
    Case(  # the arms spelled as the weighted route spells them
        "following-the-canary",
        store_with(MAIN),
        FOLLOWING,
        {
            "name": "imagerollout-m.typography",
            "match": [{"uri": {"prefix": "/v1/images"}, "headers": HEADER}],
            "retries": {"attempts": 2},
            "route": [
                {**dest("m-primary.ns.svc.cluster.local"), "weight": 75},
                {**dest("m-canary"), "weight": 25},
            ],
        },
    ),
    Case(  # a route without a match: the headers alone
        "no-match-in-the-users-route",
        store_with(DRAFTS),
        FOLLOWING,
        {
            "name": "imagerollout-m.typography",
            "match": [{"headers": HEADER}],
            "route": [{**dest("m-primary"), "weight": 75}, {**dest("m-canary"), "weight": 25}],
        },
    ),
    Case(  # every match keeps its own conditions and headers, ours added
        "the-users-headers-kept",
        store_with(TENANT),
        PINNED,
        {
            "name": "imagerollout-m.typography",
            "match": [
                {"uri": {"prefix": "/a"}, "headers": {"x-tenant": {"exact": "a"}, **HEADER}},
                {"port": 80, "headers": HEADER},
            ],
            "route": [FALLBACK],
        },
    ),
    Case(  # with a DestinationRule, the arms are its subsets
        "subsets",
        with_rule("stable", "next"),
        FOLLOWING,
        {
            "name": "imagerollout-m.typography",
            "match": [{"headers": HEADER}],
            "route": [
                {**dest("imagegen", subset="stable"), "weight": 75},
                {**dest("imagegen", subset="next"), "weight": 25},
            ],
        },
        SUBSETS,
    ),
    Case(  # ... and a fallback is a Service of its own
        "subsets-pinned",
        with_rule("stable", "next"),
        PINNED,
        {"name": "imagerollout-m.typography", "match": [{"headers": HEADER}], "route": [FALLBACK]},
        SUBSETS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_capability_route_goes_first_and_reads_back_as_written(case: Case) -> None:
    before = http(case.store)
    istio = router(case.store, subsets=case.subsets)
    istio.route_capabilities([case.route])

    first, *rest = http(case.store)
    assert first == case.wanted
    assert rest == before, "the user's routes stay as written"
    [seen] = istio.observe_capabilities()
    assert (seen.name, seen.backends) == (case.route.name, case.route.backends)
    assert set(case.route.headers) <= set(seen.headers)


def test_the_same_routes_write_nothing_and_none_removes_them() -> None:
    store = store_with(DOCS, MAIN)
    before = http(store)
    router(store).route_capabilities([PINNED])
    router(store).route_capabilities([PINNED])
    assert store.writes == 1
    router(store).route_capabilities([])
    assert http(store) == before
    assert router(store).observe_capabilities() == ()


def test_weights_move_only_in_the_users_routes() -> None:
    store = store_with(MAIN)
    stale = CapabilityRoute(
        "drafts", JOB, (Backend("m-primary", 8080, 100), Backend("m-canary", 8080, 0))
    )
    router(store).route_capabilities([stale])
    router(store).set_weight(50)
    ours, main = http(store)
    assert [d["weight"] for d in ours["route"]] == [100, 0], "the plan sets ours"
    assert [d["weight"] for d in main["route"]] == [50, 50]
    assert router(store).observe().canary_weight == 50


def test_another_rollouts_routes_on_a_shared_virtual_service_are_left_alone() -> None:
    store = store_with(MAIN)
    other = IstioRouter(store, "ns", "vs", "m-primary", "m-canary", rollout="m-b", port=8080)
    other.route_capabilities([PINNED])
    router(store).route_capabilities([PINNED])
    names = [r["name"] for r in http(store)]
    assert names == ["imagerollout-m.typography", "imagerollout-m-b.typography", "main"]
    router(store).route_capabilities([])
    assert [r["name"] for r in http(store)] == ["imagerollout-m-b.typography", "main"]
    assert [r.name for r in other.observe_capabilities()] == ["typography"]


def test_routes_the_split_cannot_be_read_from_are_refused() -> None:
    store = store_with(DOCS)
    with pytest.raises(LookupError, match="no HTTP route with destinations to both"):
        router(store).route_capabilities([PINNED])
    assert store.writes == 0
    assert router(FakeStore()).observe_capabilities() == ()
    no_rule = store_with(MAIN)
    assert router(no_rule, subsets=SUBSETS).observe_capabilities() == ()
    with pytest.raises(LookupError, match="DestinationRule imagegen"):
        router(no_rule, subsets=SUBSETS).route_capabilities([PINNED])
