"""Which traffic providers route capabilities by header (the CRD refuses the others)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from imagerollout.controller.reconciler import capability_router, router_for
from imagerollout.kube.client import Kube
from imagerollout.providers.traffic.istio import IstioRouter
from tests.core.builders import SPEC
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
