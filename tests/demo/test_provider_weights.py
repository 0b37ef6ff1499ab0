from __future__ import annotations

from typing import Any, cast

import pytest

from imagerollout.demo.provider_weights import pod_weights, weights_from_virtual_service
from imagerollout.demo.traffic import RouteNotFoundError, rollout_weights
from imagerollout.kube.client import Kube


def dest(host: str, weight: int | None = None, subset: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {"host": host}
    if subset:
        target["subset"] = subset
    return {"destination": target} if weight is None else {"destination": target, "weight": weight}


CAPABILITY_ROUTES = {
    "spec": {
        "http": [
            {
                "name": "imagerollout-m.typography",
                "match": [
                    {"uri": {"prefix": "/v1"}, "headers": {"x-job": {"exact": "typography"}}}
                ],
                "route": [dest("m-fallback-typography", 100)],
            },
            {
                "name": "tenants",
                "match": [{"headers": {"x-tenant": {"prefix": "a"}}}],
                "route": [dest("a")],
            },
            {"name": "images", "route": [dest("m-primary", 90), dest("m-canary", 10)]},
        ]
    }
}


@pytest.mark.parametrize(
    ("headers", "weights"),
    [
        ({"x-job": "typography"}, {"m-fallback-typography": 100}),
        ({"X-Job": "typography", "x-tenant": "ab"}, {"m-fallback-typography": 100, "a": 100}),
        ({"x-job": "drafts"}, {"m-primary": 90, "m-canary": 10}),
        (None, {"m-primary": 90, "m-canary": 10}),
    ],
)
def test_a_request_takes_the_routes_whose_headers_it_carries(
    headers: dict[str, str] | None, weights: dict[str, int]
) -> None:
    assert weights_from_virtual_service(CAPABILITY_ROUTES, headers) == weights


def test_virtual_service_weights_sum_by_host_and_subset() -> None:
    vs = {
        "spec": {
            "http": [
                {"route": [dest("m-primary.ns.svc.cluster.local", 75), dest("m-canary", 25)]},
                {"route": [dest("m", 90, "stable"), dest("m", 10, "next")]},
                {"route": [dest("docs")]},  # a single destination takes everything
                {"route": [dest("a", 100), dest("b")]},  # among several, unset is 0
            ]
        }
    }
    assert weights_from_virtual_service(vs) == {
        "m-primary": 75,
        "m-canary": 25,
        "m/stable": 90,
        "m/next": 10,
        "docs": 100,
        "a": 100,
        "b": 0,
    }


class Objects:
    """get_object by (plural, name)."""

    def __init__(self, objects: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objects = objects

    def get_object(
        self, api_version: str, plural: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        return self.objects.get((plural, name))


def rollout(routing: dict[str, Any]) -> dict[str, Any]:
    spec = {"targetRef": {"name": "m"}, "service": {"port": 80}, "steps": [{"weight": 100}]}
    return {"spec": {**spec, "trafficRouting": routing}}


POOLS = {"httpRoute": {"name": "r"}, "primaryPool": "a", "canaryPool": "b"}
CLUSTER = Objects(
    {
        ("imagemodelrollouts", "istio"): rollout({"istio": {"virtualService": {"name": "vs"}}}),
        ("imagemodelrollouts", "pods"): rollout({"replicas": {}}),
        ("imagemodelrollouts", "pools"): rollout({"inferencePool": POOLS}),
        ("virtualservices", "vs"): {"spec": {"http": [{"route": [dest("x")]}]}},
        ("httproutes", "r"): {"spec": {"rules": [{"backendRefs": [{"name": "a", "weight": 9}]}]}},
        ("deployments", "pods-primary"): {"status": {"availableReplicas": 3}},
        ("deployments", "m"): {"status": {}},
    }
)


def read(name: str) -> dict[str, int]:
    return rollout_weights(cast(Kube, CLUSTER), "ns", name)()


def test_a_rollout_names_the_object_whose_weights_count() -> None:
    assert read("istio") == {"x": 100}
    assert read("pools") == {"a": 9}
    assert read("pods") == {"pods-primary": 3, "pods-canary": 0}
    assert pod_weights(cast(Kube, CLUSTER), "ns", "gone", "m") == {
        "gone-primary": 0,
        "gone-canary": 0,
    }


def test_a_missing_rollout_is_a_clear_error() -> None:
    with pytest.raises(RouteNotFoundError, match="ImageModelRollout ns/gone not found"):
        read("gone")
