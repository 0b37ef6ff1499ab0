"""The reconciler's pure helpers: which providers route capabilities by header, pinned baselines."""

from __future__ import annotations

from typing import Any, cast

import pytest

from imagerollout.api.v1alpha1 import RolloutSpec
from imagerollout.controller.reconciler import (
    capability_router,
    pinned_baselines,
    remove_capability_rules,
    router_for,
)
from imagerollout.kube.client import Kube
from imagerollout.providers.traffic.gateway_api import API_VERSION, PLURAL
from imagerollout.providers.traffic.istio import IstioRouter
from tests.core.builders import CANARY_IMAGE, NAME, SPEC, STABLE_IMAGE, revision, rolling
from tests.core.capabilities.test_plan import pin, spec
from tests.providers.traffic.store import FakeStore

POOLS = {"httpRoute": {"name": "r"}, "primaryPool": "a", "canaryPool": "b"}
ROUTING: list[tuple[str, dict[str, Any], bool]] = [
    ("gatewayAPI", {"gatewayAPI": {"httpRoute": {"name": "r"}}}, True),
    ("istio", {"istio": {"virtualService": {"name": "vs"}}}, True),
    ("inferencePool", {"inferencePool": POOLS}, False),
    ("replicas", {"replicas": {}}, False),
]


@pytest.mark.parametrize(
    ("routing", "by_header"), [r[1:] for r in ROUTING], ids=[r[0] for r in ROUTING]
)
def test_capability_routing_exists_for_gateway_api_and_istio(
    routing: dict[str, Any], by_header: bool
) -> None:
    spec = SPEC.model_validate({**SPEC.model_dump(by_alias=True), "trafficRouting": routing})
    router = router_for(cast(Kube, FakeStore()), spec, "ns", "imagegen")
    assert (capability_router(router) is not None) == by_header


def test_istio_names_its_routes_after_the_rollout_and_uses_the_service_port() -> None:
    routing = {"istio": {"virtualService": {"name": "vs"}}}
    spec = SPEC.model_validate({**SPEC.model_dump(by_alias=True), "trafficRouting": routing})
    router = router_for(cast(Kube, FakeStore()), spec, "ns", "imagegen")
    assert isinstance(router, IstioRouter)
    assert (router.rollout, router.port) == ("imagegen", 8080)


CAPABILITY = {
    "name": "typography",
    "match": {"headers": [{"name": "x-image-job", "value": "typography"}]},
    "strata": ["typography"],
}
OURS = {
    "name": "imagerollout-typography",
    "backendRefs": [{"name": "imagegen-fallback-typography"}],
}
USERS = {"backendRefs": [{"name": "imagegen-primary"}, {"name": "imagegen-canary"}]}


def deleted_rollout(**spec: Any) -> dict[str, Any]:
    body = {**SPEC.model_dump(by_alias=True, exclude_none=True), **spec}
    return {"metadata": {"namespace": "ns", "name": "imagegen"}, "spec": body}


def test_a_deleted_rollouts_capability_rules_leave_the_users_route() -> None:
    store = FakeStore()
    store.put(
        API_VERSION, PLURAL, {"metadata": {"name": "imagegen"}, "spec": {"rules": [OURS, USERS]}}
    )
    remove_capability_rules(cast(Kube, store), deleted_rollout(capabilities=[CAPABILITY]))
    assert store.objects[(API_VERSION, PLURAL, "ns", "imagegen")]["spec"] == {"rules": [USERS]}
    remove_capability_rules(cast(Kube, store), deleted_rollout())  # none: nothing read or written
    assert store.writes == 1


def test_a_fallback_serving_a_pin_is_the_baseline_of_its_capabilitys_strata() -> None:
    fallback = f"http://{NAME}-fallback-typography.ns.svc:8080"
    # After the promotion the stable model is the one that failed typography: v1 serves it.
    promoted = rolling(1, 5, stable=revision(CANARY_IMAGE), pins=[pin()])
    assert pinned_baselines(spec(), promoted, "ns", NAME) == (
        ("logos", fallback),
        ("typography", fallback),
    )
    # A provisional pin (the primary still runs the pinned model) needs no other baseline.
    provisional = rolling(1, 5, stable=revision(STABLE_IMAGE), pins=[pin()])
    assert pinned_baselines(spec(), provisional, "ns", NAME) == ()
    assert pinned_baselines(spec(), rolling(1, 5), "ns", NAME) == ()


def test_with_explicit_endpoints_only_an_explicit_fallback_is_a_pinned_baseline() -> None:
    promoted = rolling(1, 5, stable=revision(CANARY_IMAGE), pins=[pin()])
    explicit = judged(spec(), {"baseline": {"url": "http://v2:80"}})
    assert pinned_baselines(explicit, promoted, "ns", NAME) == (), "the Service may be unreachable"
    explicit = judged(
        spec(fallbackEndpoint={"url": "http://v1:80"}), {"baseline": {"url": "http://v2:80"}}
    )
    assert pinned_baselines(explicit, promoted, "ns", NAME) == (
        ("logos", "http://v1:80"),
        ("typography", "http://v1:80"),
    )


def judged(rollout: RolloutSpec, endpoints: dict[str, Any]) -> RolloutSpec:
    raw = rollout.model_dump(by_alias=True, exclude_none=True)
    return RolloutSpec.model_validate({**raw, "analysis": {"endpoints": endpoints}})
