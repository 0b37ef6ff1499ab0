"""Where each capability's jobs go, as a pure plan: rules, backends and pins.

- canary-rollout: the jobs follow the canary's weight, as general traffic does;
- stable: they stay on the primary while a canary rolls out;
- service: a specialist Service serves them, never the canary;
- pinned (onCapabilityFailure Pin, after its strata failed): the primary while it still runs
  the pinned model, then the fallback Deployment that keeps that model once the canary is
  promoted. A pin on the stable revision is provisional: an abort or a new canary drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

from imagerollout.api.capabilities import (
    BackendWeight,
    Capability,
    CapabilityStatus,
    CapabilityTarget,
    Pin,
)
from imagerollout.api.v1alpha1 import AnalysisStatus, RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.judge import Verdict
from imagerollout.core.observations import Backend, CapabilityRoute, DeploymentView, Observations
from imagerollout.core.quality.cells import stratum_cell
from imagerollout.core.quality.scopes import scope_of
from imagerollout.core.rollout.actions import EnsureFallback, RemoveFallback, RouteCapabilities
from imagerollout.core.rollout.draft import Draft
from imagerollout.core.rollout.revision import canary_service, fallback_service, primary_service

Planned = tuple[CapabilityRoute, CapabilityStatus]
UNSUPPORTED = "spec.capabilities needs a traffic provider that routes by header: gatewayAPI, istio"


def route_capabilities(spec: RolloutSpec, d: Draft, obs: Observations) -> None:
    """Ask for the planned rules when the route differs; record where jobs go; clean up."""
    _release_unlisted(spec, d)
    planned = [_plan(spec, d.status, obs, c) for c in spec.capabilities]
    wanted = tuple(route for route, _ in planned)
    if obs.capability_routes is None:
        if wanted:
            d.condition(R.INVALID_SPEC, True, R.TRAFFIC_ROUTING_ERROR, UNSUPPORTED)
        return
    if not _as_observed(wanted, obs.capability_routes):
        d.act(RouteCapabilities(wanted))
        before = {r.name: r.backends for r in obs.capability_routes}
        for route, status in planned:
            if before.get(route.name) != route.backends:
                d.event(
                    R.CAPABILITY_ROUTED, f"{route.name} jobs: {_shares(route)} ({status.reason})"
                )
    d.set(capabilities=[status for _, status in planned])
    pinned = {p.capability for p in d.status.pins}
    for capability, fallback in sorted(obs.fallbacks.items()):
        if fallback is not None and capability not in pinned:
            d.act(RemoveFallback(capability))  # after the route left it


def pin_failures(d: Draft, failures: dict[str, str]) -> None:
    """Pin each newly failed capability to the stable model; the canary goes on without it."""
    stable = d.status.stable
    assert stable is not None
    pinned = {p.capability for p in d.status.pins}
    for capability, why in sorted(failures.items()):
        if capability in pinned:
            continue
        pin = Pin(capability=capability, model=stable.model, revision=stable.revision, why=why)
        d.set(pins=[*d.status.pins, pin])
        d.event(
            R.CAPABILITY_PINNED,
            f"{capability} pinned to {stable.model} ({why}); the canary goes on for general "
            "traffic",
            warning=True,
        )


def drop_provisional(d: Draft) -> None:
    """A canary that is not promoted leaves no pin: its jobs were on the stable model anyway."""
    stable = d.status.stable
    kept = [p for p in d.status.pins if stable is None or p.revision != stable.revision]
    if len(kept) != len(d.status.pins):
        d.set(pins=kept)


def prepare_fallbacks(d: Draft, obs: Observations, primary: DeploymentView) -> str | None:
    """Before the primary takes the canary: each provisional pin's fallback runs the stable
    model and its jobs are routed there. What is still awaited, or None."""
    stable = d.status.stable
    assert stable is not None
    for pin in [p for p in d.status.pins if p.revision == stable.revision]:
        fallback = obs.fallbacks.get(pin.capability)
        if fallback is None or fallback.revision != pin.revision:
            if primary.revision != pin.revision:  # the stable template is gone: cannot pin
                _lose(d, pin)
                continue
            d.act(EnsureFallback(pin.capability, primary.template, pin.revision, primary.replicas))
            return f"starting the fallback for {pin.capability} ({pin.model})"
        if not fallback.ready:
            if primary.revision == pin.revision:  # a pass cut short may have left no Service
                d.act(
                    EnsureFallback(pin.capability, primary.template, pin.revision, primary.replicas)
                )
            return f"waiting for the fallback pods of {pin.capability} ({pin.model})"
        name = fallback_service(obs.rollout, pin.capability)
        if not _routed_to(obs, pin.capability, name):
            return f"moving {pin.capability} jobs to {name} ({pin.model})"
    return None


def settle_pins(d: Draft, analysis: AnalysisStatus | None) -> str:
    """At promotion: earlier pins whose strata passed this canary are released. Returns the
    promotion's exception text (`except typography (...); typography jobs stay on v1`)."""
    stable = d.status.stable
    assert stable is not None
    kept = []
    for pin in d.status.pins:
        if pin.revision != stable.revision and _passed(analysis, pin.capability):
            d.event(R.CAPABILITY_RELEASED, f"{pin.capability} released: its strata passed")
        else:
            kept.append(pin)
    d.set(pins=kept)
    if not kept:
        return ""
    failed = ", ".join(f"{p.capability} ({p.why})" for p in kept)
    stays = "; ".join(f"{p.capability} jobs stay on {p.model}" for p in kept)
    return f" except {failed}; {stays}"


def _release_unlisted(spec: RolloutSpec, d: Draft) -> None:
    listed = {c.name for c in spec.capabilities}
    for pin in d.status.pins:
        if pin.capability not in listed:
            d.event(R.CAPABILITY_RELEASED, f"{pin.capability} released: no longer in the spec")
    d.set(pins=[p for p in d.status.pins if p.capability in listed])


def _lose(d: Draft, pin: Pin) -> None:
    d.set(pins=[p for p in d.status.pins if p != pin])
    d.event(
        R.FALLBACK_LOST,
        f"{pin.capability}: the fallback for {pin.model} is missing and the primary no longer "
        "runs it; its jobs follow the primary",
        warning=True,
    )


def _plan(spec: RolloutSpec, status: RolloutStatus, obs: Observations, c: Capability) -> Planned:
    port, rollout = spec.service.port, obs.rollout
    stable = status.stable.model if status.stable else ""
    pin = next((p for p in status.pins if p.capability == c.name), None)
    primary = Backend(primary_service(rollout), port, 100)
    backends: tuple[Backend, ...]
    if c.target == CapabilityTarget.SERVICE:
        assert c.service is not None
        backends, model = (Backend(c.service, c.port or port, 100),), f"Service {c.service}"
        reason = f"specialist Service {c.service}; never the canary"
    elif pin is not None:
        fallback = obs.fallbacks.get(c.name)
        name = fallback_service(rollout, c.name)
        if fallback is not None and fallback.revision == pin.revision and fallback.ready:
            backends, model = (Backend(name, port, 100),), pin.model
            reason = f"pinned ({pin.why}); {name} runs {pin.model}"
        else:
            backends, model = (primary,), stable
            reason = f"pinned ({pin.why}); the primary runs {stable}"
    elif c.target == CapabilityTarget.STABLE or status.canary is None:
        backends, model = (primary,), stable
        reason = "target stable: no canary traffic" if status.canary else "no rollout"
    else:
        weight = status.canary_weight
        canary = Backend(canary_service(rollout), port, weight)
        backends = (Backend(primary.service, port, 100 - weight), canary)
        model = f"{stable} {100 - weight}%, {status.canary.model} {weight}%"
        reason = "follows the canary's weight"
    headers = tuple((h.name, h.value) for h in c.match.headers)
    shown = [BackendWeight(service=b.service, weight=b.weight) for b in backends]
    return CapabilityRoute(c.name, headers, backends), CapabilityStatus(
        name=c.name, backends=shown, model=model, reason=reason, pinned=pin is not None
    )


def _as_observed(wanted: Sequence[CapabilityRoute], observed: Sequence[CapabilityRoute]) -> bool:
    """The route has these rules in this order (a rule's matches may carry the user's own
    headers too, and a provider may list them in its own order: Istio's are a map)."""
    return len(wanted) == len(observed) and all(
        (w.name, w.backends) == (o.name, o.backends) and set(w.headers) <= set(o.headers)
        for w, o in zip(wanted, observed, strict=True)
    )


def _routed_to(obs: Observations, capability: str, service: str) -> bool:
    routes = obs.capability_routes or ()
    route = next((r for r in routes if r.name == capability), None)
    return route is not None and [b.service for b in route.backends if b.weight] == [service]


def _passed(analysis: AnalysisStatus | None, capability: str) -> bool:
    """Every gate of the capability's scope passed (its pooled results, as status lists them)."""
    gates = [
        g
        for g in (analysis.gates if analysis else [])
        if scope_of(g.gate) == capability and not stratum_cell(g.gate)
    ]
    return bool(gates) and all(g.verdict == Verdict.PASS for g in gates)


def _shares(route: CapabilityRoute) -> str:
    return ", ".join(f"{b.service} {b.weight}%" for b in route.backends)


def fallback_capabilities(spec: RolloutSpec, pins: Sequence[Pin]) -> list[str]:
    """The capabilities whose fallback Deployment the operator looks for."""
    return sorted({c.name for c in spec.capabilities} | {p.capability for p in pins})
