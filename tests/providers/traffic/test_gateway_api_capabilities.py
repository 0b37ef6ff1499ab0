"""The Gateway API router's capability rules: above the user's rules, found by name, removed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from imagerollout.core.observations import Backend, CapabilityRoute
from imagerollout.providers.traffic.gateway_api import GatewayAPIRouter

Object = dict[str, Any]
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


class Store:
    def __init__(self, route: Object | None) -> None:
        self.route, self.writes = route, 0

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> Object | None:
        return copy.deepcopy(self.route)

    def update_object(
        self,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        mutate: Callable[[Object], bool],
    ) -> None:
        obj = copy.deepcopy(self.route)
        assert obj is not None
        if mutate(obj):
            self.route, self.writes = obj, self.writes + 1


def router() -> tuple[GatewayAPIRouter, Store]:
    store = Store({"spec": {"rules": copy.deepcopy(USER_RULES)}})
    return GatewayAPIRouter(store, "ns", "m", "m-primary", "m-canary"), store


def test_a_capability_rule_goes_above_the_users_rules_with_their_matches_and_filters() -> None:
    gateway, store = router()
    gateway.route_capabilities([TYPOGRAPHY])
    assert store.route is not None
    rules = store.route["spec"]["rules"]
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
    assert store.route == {"spec": {"rules": USER_RULES}}
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
    assert store.route is not None
    rules = store.route["spec"]["rules"]
    assert [b["weight"] for b in rules[0]["backendRefs"]] == [100, 0], "the plan sets ours"
    assert [b["weight"] for b in rules[1]["backendRefs"]] == [75, 25]
    assert gateway.observe().canary_weight == 25
