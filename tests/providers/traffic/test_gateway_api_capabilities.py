"""The Gateway API router's capability rules: above the user's rules, found by name, removed."""

from __future__ import annotations

import copy

from imagerollout.core.observations import Backend, CapabilityRoute
from imagerollout.providers.traffic.gateway_api import API_VERSION, PLURAL, GatewayAPIRouter
from tests.providers.traffic.store import FakeStore, Object

USER_RULES: list[Object] = [
    {
        "matches": [{"path": {"type": "PathPrefix", "value": "/v1/images"}}],
        "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": []}}],
        "backendRefs": [
            {"name": "m-primary", "port": 8080, "weight": 100},
            {"name": "m-canary", "port": 8080, "weight": 0},
        ],
    },
    {
        "matches": [{"path": {"type": "PathPrefix", "value": "/docs"}}],
        "backendRefs": [{"name": "docs"}],
    },
]
TYPOGRAPHY = CapabilityRoute(
    "typography",
    (("x-image-job", "typography"),),
    (Backend("m-fallback-typography", 8080, 100),),
)


def route_of(store: FakeStore) -> Object:
    return store.objects[(API_VERSION, PLURAL, "ns", "m")]


def router() -> tuple[GatewayAPIRouter, FakeStore]:
    store = FakeStore()
    store.put(
        API_VERSION,
        PLURAL,
        {"metadata": {"name": "m"}, "spec": {"rules": copy.deepcopy(USER_RULES)}},
    )
    return GatewayAPIRouter(store, "ns", "m", "m-primary", "m-canary"), store


def test_a_capability_rule_goes_above_the_users_rules_with_their_matches_and_filters() -> None:
    gateway, store = router()
    gateway.route_capabilities([TYPOGRAPHY])
    rules = route_of(store)["spec"]["rules"]
    assert rules[1:] == USER_RULES
    assert rules[0]["name"] == "imagerollout-typography"
    assert rules[0]["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/v1/images"},
            "headers": [{"type": "Exact", "name": "x-image-job", "value": "typography"}],
        }
    ]
    assert rules[0]["filters"] == USER_RULES[0]["filters"]
    assert gateway.observe_capabilities() == (TYPOGRAPHY,)


def test_rewriting_the_same_rules_writes_nothing_and_an_empty_list_removes_them() -> None:
    gateway, store = router()
    gateway.route_capabilities([TYPOGRAPHY])
    gateway.route_capabilities([TYPOGRAPHY])
    assert store.writes == 1
    gateway.route_capabilities([])
    assert route_of(store)["spec"] == {"rules": USER_RULES}
    assert gateway.observe_capabilities() == ()


def test_weights_move_only_in_the_users_rules() -> None:
    gateway, store = router()
    following = CapabilityRoute(
        "drafts",
        (("x-image-job", "draft"),),
        (Backend("m-primary", 8080, 100), Backend("m-canary", 8080, 0)),
    )
    gateway.route_capabilities([following])
    gateway.set_weight(25)
    rules = route_of(store)["spec"]["rules"]
    assert [b["weight"] for b in rules[0]["backendRefs"]] == [100, 0], "the plan sets ours"
    assert [b["weight"] for b in rules[1]["backendRefs"]] == [75, 25]
    assert gateway.observe().canary_weight == 25
