"""Capability routing in the decision: rules per capability, pins, fallbacks, release."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from imagerollout.api.capabilities import Pin
from imagerollout.api.v1alpha1 import Phase, RolloutSpec
from imagerollout.core import reasons as R
from imagerollout.core.capabilities.plan import pin_failures, settle_pins
from imagerollout.core.observations import Backend, CapabilityRoute, DeploymentView, Observations
from imagerollout.core.rollout.actions import (
    Action,
    EnsureFallback,
    EnsurePrimary,
    RemoveFallback,
    RouteCapabilities,
)
from imagerollout.core.rollout.decide import decide
from imagerollout.core.rollout.draft import Draft
from tests.core.builders import (
    CANARY_IMAGE,
    NAME,
    NOW,
    SPEC,
    STABLE_IMAGE,
    deployment,
    initialized,
    make_obs,
    primary,
    reasons,
    revision_of,
    rolling,
)

HEADERS = (("x-image-job", "typography"),)
WHY = "text/logos failed: canary 0.25 vs baseline 0.95"
FALLBACK = f"{NAME}-fallback-typography"


def spec(target: str = "canary-rollout", **fields: Any) -> RolloutSpec:
    capability: dict[str, Any] = {
        "name": "typography",
        "match": {"headers": [{"name": "x-image-job", "value": "typography"}]},
        "strata": ["typography", "logos"],
        "target": target,
        **fields,
    }
    raw = SPEC.model_dump(by_alias=True, exclude_none=True)
    return RolloutSpec.model_validate({**raw, "capabilities": [capability]})


def obs(target: DeploymentView, main: DeploymentView, **fields: Any) -> Observations:
    return replace(make_obs(target, main, route=fields.pop("route", 0)), rollout=NAME, **fields)


def route(*backends: tuple[str, int]) -> CapabilityRoute:
    return CapabilityRoute("typography", HEADERS, tuple(Backend(s, 8080, w) for s, w in backends))


def routed(actions: tuple[Action, ...]) -> list[CapabilityRoute]:
    return [r for a in actions if isinstance(a, RouteCapabilities) for r in a.routes]


def pin(revision: str = revision_of(STABLE_IMAGE)) -> Pin:
    return Pin(capability="typography", model=STABLE_IMAGE, revision=revision, why=WHY)


def fallback(image: str = STABLE_IMAGE, ready: bool = True) -> DeploymentView:
    return replace(primary(image), ready=ready)


def test_a_following_capability_gets_a_rule_at_the_canarys_weight() -> None:
    decision = decide(
        spec(), rolling(1, 25), obs(deployment(CANARY_IMAGE), primary(), route=25), NOW
    )
    assert routed(decision.actions) == [route((f"{NAME}-primary", 75), (f"{NAME}-canary", 25))]
    [where] = decision.status.capabilities
    assert where.reason == "follows the canary's weight"
    assert R.CAPABILITY_ROUTED in reasons(decision)


def test_an_observed_rule_as_planned_is_left_alone() -> None:
    planned = route((f"{NAME}-primary", 100))
    seen = obs(deployment(STABLE_IMAGE), primary(), capability_routes=(planned,))
    decision = decide(spec("stable"), initialized(), seen, NOW)
    assert routed(decision.actions) == []
    assert decision.status.capabilities[0].backends[0].service == f"{NAME}-primary"


def test_a_specialist_gets_its_service_and_a_router_without_headers_is_an_error() -> None:
    specialist = spec("service", service="typo-model", strata=[], port=9000)
    decision = decide(specialist, initialized(), obs(deployment(STABLE_IMAGE), primary()), NOW)
    assert routed(decision.actions)[0].backends == (Backend("typo-model", 9000, 100),)
    no_headers = obs(deployment(STABLE_IMAGE), primary(), capability_routes=None)
    decision = decide(specialist, initialized(), no_headers, NOW)
    invalid = next(c for c in decision.status.conditions if c.type == R.INVALID_SPEC)
    assert (invalid.status, invalid.reason) == ("True", R.TRAFFIC_ROUTING_ERROR)


def test_a_new_failure_pins_the_capability_to_the_stable_model_with_a_warning() -> None:
    d = Draft(rolling(1, 25), NOW, 1)
    pin_failures(d, {"typography": WHY})
    pin_failures(d, {"typography": WHY})  # once
    assert d.status.pins == [pin()]
    assert [(e.reason, e.warning) for e in d.events] == [(R.CAPABILITY_PINNED, True)]


def test_a_pinned_capability_stays_on_the_primary_while_the_canary_rolls_out() -> None:
    status = rolling(1, 25, pins=[pin()])
    decision = decide(spec(), status, obs(deployment(CANARY_IMAGE), primary(), route=25), NOW)
    assert routed(decision.actions) == [route((f"{NAME}-primary", 100))]
    assert decision.status.capabilities[0].pinned


def test_promotion_starts_the_fallback_and_moves_the_jobs_before_the_primary_changes() -> None:
    status = rolling(4, 100, pins=[pin()])
    target = deployment(CANARY_IMAGE)
    decision = decide(spec(), status, obs(target, primary(), route=100), NOW)
    assert [type(a) for a in decision.actions if not isinstance(a, RouteCapabilities)] == [
        EnsureFallback
    ]
    assert decision.status.phase == Phase.PROMOTING

    ready = {"typography": fallback()}
    decision = decide(spec(), status, obs(target, primary(), route=100, fallbacks=ready), NOW)
    assert routed(decision.actions) == [route((FALLBACK, 100))]
    assert not any(isinstance(a, EnsurePrimary) for a in decision.actions)

    moved = obs(
        target, primary(), route=100, fallbacks=ready, capability_routes=(route((FALLBACK, 100)),)
    )
    decision = decide(spec(), status, moved, NOW)
    assert any(isinstance(a, EnsurePrimary) for a in decision.actions)


def test_a_fallback_not_ready_is_ensured_again_until_it_is() -> None:
    """Killed between the fallback's Deployment and its Service: the next pass creates the
    Service (EnsureFallback creates only what is missing) and no job moves meanwhile."""
    status = rolling(4, 100, pins=[pin()])
    starting = {"typography": fallback(ready=False)}
    decision = decide(
        spec(), status, obs(deployment(CANARY_IMAGE), primary(), route=100, fallbacks=starting), NOW
    )
    assert [a for a in decision.actions if isinstance(a, EnsureFallback)] != []
    assert routed(decision.actions) in ([], [route((f"{NAME}-primary", 100))])
    assert not any(isinstance(a, EnsurePrimary) for a in decision.actions)
    assert "waiting for the fallback pods of typography" in decision.status.message


def test_the_promotion_says_what_stays_behind() -> None:
    status = rolling(4, 100, pins=[pin()])
    promoted = obs(
        deployment(CANARY_IMAGE),
        primary(CANARY_IMAGE),
        route=0,
        fallbacks={"typography": fallback()},
        capability_routes=(route((FALLBACK, 100)),),
    )
    decision = decide(spec(), status, promoted, NOW)
    assert decision.status.phase == Phase.SUCCEEDED
    assert decision.status.message == (
        f"promoted except typography ({WHY}); typography jobs stay on {STABLE_IMAGE}"
    )
    assert decision.status.pins == [pin()]
    assert decision.status.capabilities[0].backends[0].service == FALLBACK


def test_an_abort_drops_a_provisional_pin_and_a_later_pass_releases_an_old_one() -> None:
    d = Draft(rolling(1, 25, pins=[pin()], abort=True), NOW, 1)
    decision = decide(spec(), d.before, obs(deployment(CANARY_IMAGE), primary(), route=25), NOW)
    assert decision.status.pins == []

    old = pin(revision_of("registry.example/imagegen:v0"))
    d = Draft(rolling(4, 100, pins=[old]), NOW, 1)
    assert settle_pins(d, None) != "", "no analysis: no proof, the pin stays"
    passed = {
        "gates": [
            {
                "gate": "typography.text",
                "verdict": "Pass",
                "samples": 9,
                "baseline": "1",
                "canary": "1",
                "effect": "0",
                "lower": "0",
                "upper": "0",
            }
        ]
    }
    d = Draft(rolling(4, 100, pins=[old], analysis=passed), NOW, 1)
    assert settle_pins(d, d.status.analysis) == ""
    assert d.status.pins == []


def test_an_unpinned_fallback_is_removed_after_the_route_left_it() -> None:
    leftover = obs(deployment(STABLE_IMAGE), primary(), fallbacks={"typography": fallback()})
    decision = decide(spec(), initialized(), leftover, NOW)
    kinds = [type(a) for a in decision.actions]
    assert kinds.index(RouteCapabilities) < kinds.index(RemoveFallback)
