from __future__ import annotations

from typing import Any

from imagerollout.controller.dependents import Dependents


def rollout(name: str, target: str, route: str) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name},
        "spec": {
            "targetRef": {"name": target},
            "trafficRouting": {"gatewayAPI": {"httpRoute": {"name": route}}},
        },
    }


def obj(name: str, namespace: str = "ns") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def test_objects_map_to_the_rollouts_that_read_them() -> None:
    deps = Dependents()
    deps.track(rollout("a", "model", "shared"))
    deps.track(rollout("b", "other", "shared"))

    assert deps.of("deployments", obj("model")) == {("ns", "a")}
    assert deps.of("deployments", obj("a-primary")) == {("ns", "a")}
    assert deps.of("services", obj("b-canary")) == {("ns", "b")}
    assert deps.of("httproutes", obj("shared")) == {("ns", "a"), ("ns", "b")}
    assert deps.of("deployments", obj("model", "elsewhere")) == set()
    assert deps.of("services", obj("model")) == set(), "a Deployment's name is not a Service's"


def test_a_changed_spec_moves_the_mapping_and_a_deleted_rollout_leaves_it() -> None:
    deps = Dependents()
    deps.track(rollout("a", "model", "route"))
    deps.track(rollout("a", "model-2", "route"))
    assert deps.of("deployments", obj("model")) == set()
    assert deps.of("deployments", obj("model-2")) == {("ns", "a")}

    deps.forget(("ns", "a"))
    assert deps.of("httproutes", obj("route")) == set()


def test_an_unreadable_spec_still_maps_its_owned_objects() -> None:
    deps = Dependents()
    deps.track({"metadata": {"namespace": "ns", "name": "a"}, "spec": {"targetRef": 3}})
    assert deps.of("deployments", obj("a-primary")) == {("ns", "a")}


def routed(routing: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": "r"},
        "spec": {"targetRef": {"name": "model"}, "trafficRouting": routing},
    }


def test_each_providers_objects_map_to_the_rollout() -> None:
    deps = Dependents()
    deps.track(
        routed(
            {
                "istio": {
                    "virtualService": {"name": "vs", "routes": ["images"]},
                    "destinationRule": {"name": "dr"},
                }
            }
        )
    )
    assert deps.of("virtualservices", obj("vs")) == {("ns", "r")}
    assert deps.of("destinationrules", obj("dr")) == {("ns", "r")}
    assert deps.of("httproutes", obj("vs")) == set()

    pools = {"httpRoute": {"name": "route"}, "primaryPool": "v1", "canaryPool": "v2"}
    deps.track(routed({"inferencePool": pools}))
    assert deps.of("virtualservices", obj("vs")) == set(), "the old provider's refs are gone"
    assert deps.of("httproutes", obj("route")) == {("ns", "r")}
    assert deps.of("inferencepools", obj("v1")) == deps.of("inferencepools", obj("v2"))
    assert deps.of("inferencepools", obj("v2")) == {("ns", "r")}

    deps.track(routed({"replicas": {"service": {"name": "users"}}}))
    assert deps.of("services", obj("users")) == {("ns", "r")}
    assert ("services", "ns", "users") in deps.refs(("ns", "r"))
    assert deps.refs(("ns", "unknown")) == set()


def test_a_capabilitys_fallback_objects_concern_the_rollout_listing_or_pinning_it() -> None:
    deps = Dependents()
    listed = rollout("a", "model", "route")
    listed["spec"]["capabilities"] = [{"name": "typography"}]
    listed["status"] = {"pins": [{"capability": "posters"}]}
    deps.track(listed)
    for plural in ("deployments", "services"):
        assert deps.of(plural, obj("a-fallback-typography")) == {("ns", "a")}
        assert deps.of(plural, obj("a-fallback-posters")) == {("ns", "a")}
    assert deps.of("deployments", obj("a-fallback-drafts")) == set()
