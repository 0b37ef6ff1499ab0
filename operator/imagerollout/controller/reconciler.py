"""One reconcile: read the rollout, observe, decide, apply the actions, write status, post events.

Actions run before the status write; if the write loses a resourceVersion race the whole
pass is redone from fresh reads (every action is idempotent), so no update is lost. An action
the API server refuses is recorded instead (ActionFailed, and a Warning event once per
distinct error) and raised as ActionError, so the caller retries with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from imagerollout.api.v1alpha1 import Analysis, Phase, RolloutSpec, RolloutStatus
from imagerollout.controller.metric_reader import read_metrics
from imagerollout.controller.observe import deployment_view
from imagerollout.controller.sampler.registry import Arms, SamplerRegistry, resolve_arms
from imagerollout.controller.webhooks import WebhookCalls
from imagerollout.core.capabilities.plan import fallback_capabilities
from imagerollout.core.observations import (
    AnalysisObservation,
    CapabilityRoute,
    DeploymentView,
    Observations,
)
from imagerollout.core.quality.analysis import AnalysisState
from imagerollout.core.quality.gating import scopes_for
from imagerollout.core.rollout.actions import (
    Action,
    CallWebhook,
    Decision,
    EnsureFallback,
    EnsurePrimary,
    EnsureServices,
    RemoveFallback,
    RouteCapabilities,
    ScaleCanary,
    SetWeight,
)
from imagerollout.core.rollout.decide import decide, unreadable_spec
from imagerollout.core.rollout.failures import action_failed, actions_applied
from imagerollout.core.rollout.sampler_lint import blocking, lint
from imagerollout.core.rollout.webhooks import sampling_waits
from imagerollout.kube import objects
from imagerollout.kube.client import ApiError, ConflictError, Kube, NotFoundError
from imagerollout.providers.traffic.gateway_api import SERVICE, GatewayAPIRouter
from imagerollout.providers.traffic.inference_pool import InferencePoolRouter
from imagerollout.providers.traffic.istio import IstioRouter, Subsets
from imagerollout.providers.traffic.replicas import ReplicaRouter
from imagerollout.providers.traffic.router import CapabilityRouter, TrafficRouter
from imagerollout.quality.suite import Suite, default_suite, load_suite
from imagerollout.telemetry import OperatorMetrics

Object = dict[str, Any]
# Told of every decision whose status was written: notifications (controller/notifications.py).
Notify = Callable[[Object, RolloutSpec, RolloutStatus, Decision], None]
log = logging.getLogger(__name__)
STATUS_RETRIES = 5
SAMPLING_PHASES = (Phase.PROGRESSING, Phase.PAUSED)


class ActionError(Exception):
    """The API server refused an action; status and events already say so."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def router_for(kube: Kube, spec: RolloutSpec, namespace: str, name: str) -> TrafficRouter:
    """The one provider spec.trafficRouting names (the CRD admits exactly one)."""
    routing = spec.traffic_routing
    primary, canary = objects.primary_name(name), objects.canary_name(name)
    if routing.gateway_api is not None:
        return GatewayAPIRouter(
            kube, namespace, routing.gateway_api.http_route.name, primary, canary
        )
    if routing.inference_pool is not None:
        pools = routing.inference_pool
        return InferencePoolRouter(
            kube, namespace, pools.http_route.name, pools.primary_pool, pools.canary_pool
        )
    if routing.istio is not None:
        istio = routing.istio
        rule = istio.destination_rule
        subsets = Subsets(rule.name, rule.primary_subset, rule.canary_subset) if rule else None
        virtual_service = istio.virtual_service
        routes = tuple(virtual_service.routes)
        return IstioRouter(
            kube,
            namespace,
            virtual_service.name,
            primary,
            canary,
            routes,
            subsets,
            rollout=name,
            port=spec.service.port,
        )
    if routing.replicas is not None:
        service = routing.replicas.service
        return ReplicaRouter(
            kube, namespace, primary, spec.target_ref.name, service.name if service else None
        )
    raise ValueError("no traffic provider configured")


def capability_router(router: TrafficRouter) -> CapabilityRouter | None:
    """The provider's header routing for spec.capabilities, if it has one."""
    if isinstance(router, GatewayAPIRouter) and router.backend == SERVICE:
        return router
    if isinstance(router, IstioRouter):
        return router
    # InferencePool: a fallback would be a Service beside the pools, outside their endpoint
    # picker (docs/capabilities.md); replicas: one Service cannot route by header. The CRD
    # refuses both, so this is reached only by a rollout admitted before that rule.
    return None


def remove_capability_rules(kube: Kube, rollout: Object) -> None:
    """A deleted rollout's capability rules leave the user's route, so none outlives the
    fallback Service it sends jobs to (those go with their ownerReferences)."""
    status = RolloutStatus.model_validate(rollout.get("status") or {})
    try:
        spec = RolloutSpec.model_validate(rollout["spec"])
    except ValidationError:
        return  # never routed anything
    if not (spec.capabilities or status.capabilities):
        return
    meta = rollout["metadata"]
    by_header = capability_router(router_for(kube, spec, meta["namespace"], meta["name"]))
    with contextlib.suppress(NotFoundError):  # the route went first: nothing left to remove
        if by_header is not None:
            by_header.route_capabilities([])


def reconcile(
    kube: Kube,
    namespace: str,
    name: str,
    now: Callable[[], datetime] = utc_now,
    samplers: SamplerRegistry | None = None,
    metrics: OperatorMetrics | None = None,
    notify: Notify | None = None,
    report_base: str = "",
    webhooks: WebhookCalls | None = None,
) -> Decision | None:
    key = f"{namespace}/{name}"
    for _ in range(STATUS_RETRIES):
        rollout = kube.get_rollout(namespace, name)
        if rollout is None:
            if samplers is not None:
                samplers.stop(key)
            return None
        status = RolloutStatus.model_validate(rollout.get("status") or {})
        try:
            spec = RolloutSpec.model_validate(rollout["spec"])
        except ValidationError as err:
            problem = _first_problem(err)
            decision = unreadable_spec(
                status, now(), rollout["metadata"].get("generation"), problem
            )
            return _record(kube, rollout, status, decision)
        router = router_for(kube, spec, namespace, name)
        observations = observe(kube, spec, status, namespace, name, router)
        if samplers is not None:
            analysis = observe_analysis(kube, samplers, spec, status, observations, key)
            observations = replace(observations, analysis=analysis)
        moment = now()
        reading = read_metrics(kube, spec, status, namespace, name, moment)
        observations = replace(observations, metrics=reading)
        if webhooks is not None:
            observations = replace(observations, webhooks=webhooks.replies(key))
        started = time.perf_counter()
        decision = decide(spec, status, observations, moment, rollout["metadata"].get("generation"))
        if metrics is not None:
            metrics.decision_seconds.observe(time.perf_counter() - started)
        if report_base:  # where on-call finds the evidence report (report/server.py)
            url = f"{report_base}/reports/{namespace}/{name}"
            decision = replace(
                decision, status=decision.status.model_copy(update={"report_url": url})
            )
        generation = rollout["metadata"].get("generation")
        try:
            for action in decision.actions:
                if isinstance(action, CallWebhook):
                    _call_webhook(webhooks, key, spec, action)
                else:
                    apply(kube, router, rollout, spec, observations, action)
        except ConflictError:
            raise  # a cached object was stale: the pass is redone once the watch caught up
        except (ApiError, LookupError) as error:
            what = type(action).__name__
            failed = action_failed(status, moment, generation, what, _message(error))
            _record_failure(kube, rollout, status, failed)
            raise ActionError(f"{what} refused: {_message(error)}") from None
        decision = actions_applied(decision, moment, generation)
        try:
            _record(kube, rollout, status, decision)
        except ConflictError:
            log.info("status of %s/%s changed meanwhile; deciding again", namespace, name)
            kube.await_change(namespace, name, rollout["metadata"]["resourceVersion"])
            continue
        if notify is not None:
            notify(rollout, spec, status, decision)
        if samplers is not None and decision.status.phase not in SAMPLING_PHASES:
            samplers.stop(key)
        return decision
    raise ConflictError(409, f"status of {namespace}/{name} kept changing; will retry")


def _message(error: Exception) -> str:
    return error.message if isinstance(error, ApiError) else str(error)


def _record_failure(kube: Kube, rollout: Object, status: RolloutStatus, failed: Decision) -> None:
    with contextlib.suppress(ConflictError):  # the retry decides again from the newer status
        _record(kube, rollout, status, failed)


def _first_problem(err: ValidationError) -> str:
    problem = err.errors(include_url=False)[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"spec.{where}: {problem['msg']} (value {problem.get('input')!r})"


def _record(kube: Kube, rollout: Object, status: RolloutStatus, decision: Decision) -> Decision:
    """Write a decision's status when it changed, then post its events (a lost write posts none)."""
    if decision.status != status:
        namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
        kube.write_rollout_status(
            namespace, name, rollout["metadata"]["resourceVersion"], _dump(decision)
        )
    for event in decision.events:
        kube.emit_event(rollout, event.reason, event.message, event.warning)
    return decision


def observe_analysis(
    kube: Kube,
    samplers: SamplerRegistry,
    spec: RolloutSpec,
    status: RolloutStatus,
    observations: Observations,
    key: str,
) -> AnalysisObservation | None:
    """Start or read the sampler while a canary is being judged."""
    target, analysis = observations.target, spec.analysis
    stable = status.stable.revision if status.stable else None
    idle = status.abort or status.phase == Phase.DEGRADED  # a retry starts afresh
    if analysis is None or target is None or target.revision == stable or idle:
        samplers.stop(key)
        return None
    if sampling_waits(spec, status, target.revision):  # confirm-rollout and pre-rollout first
        samplers.stop(key)
        return None
    namespace, name = key.split("/")
    scopes = scopes_for(spec, status)
    try:
        suite = _suite(kube, namespace, analysis)
        unknown = scopes.unknown_strata([s.name for s in suite.strata])
        if unknown:
            raise ValueError(f"spec.capabilities lists strata the suite does not have: {unknown}")
        port = spec.service.port
        arms = resolve_arms(
            analysis,
            Arms(
                f"http://{objects.primary_name(name)}.{namespace}.svc:{port}",
                f"http://{objects.canary_name(name)}.{namespace}.svc:{port}",
                pinned_baselines(spec, status, namespace, name),
            ),
            [c.fallback_endpoint.url for c in spec.capabilities if c.fallback_endpoint],
        )
    except ValueError as error:
        return AnalysisObservation(state=AnalysisState(), strata=(), error=str(error))
    parameters = dict(suite.parameters)
    if blocking(lint(analysis.sampler_policy, target.template, parameters)):
        samplers.stop(key)  # a blocked canary costs no GPU time: decide() holds the rollout
        return AnalysisObservation(state=AnalysisState(), strata=(), request_parameters=parameters)
    attempt = f"{target.revision}@{status.rollout_started_at or 'new'}"
    observed = samplers.observe(key, attempt, analysis, suite, arms, status, scopes)
    return replace(observed, request_parameters=parameters)


def pinned_baselines(
    spec: RolloutSpec, status: RolloutStatus, namespace: str, name: str
) -> tuple[tuple[str, str], ...]:
    """(stratum, URL of the pinned model) for each capability a fallback serves: a canary must
    match the model those jobs are on to release the pin, not the stable one that failed them.
    The URL is the capability's fallbackEndpoint, else the fallback Service's; with an explicit
    baseline URL only explicit ones count (in-cluster Services may be out of reach)."""
    services = spec.analysis is None or spec.analysis.endpoints.baseline is None
    stable = status.stable.revision if status.stable else None
    capabilities = {c.name: c for c in spec.capabilities}
    pinned = []
    for pin in status.pins:
        capability = capabilities.get(pin.capability)
        if capability is None or pin.revision == stable:  # provisional: the primary serves it
            continue
        service = objects.fallback_name(name, pin.capability)
        url = f"http://{service}.{namespace}.svc:{spec.service.port}" if services else None
        if capability.fallback_endpoint is not None:
            url = capability.fallback_endpoint.url
        if url is not None:
            pinned += [(stratum, url) for stratum in capability.strata]
    return tuple(sorted(pinned))


def _call_webhook(
    webhooks: WebhookCalls | None, key: str, spec: RolloutSpec, action: CallWebhook
) -> None:
    hook = next((h for h in spec.webhooks if h.name == action.hook), None)
    if webhooks is not None and hook is not None:
        webhooks.call(key, hook, action)


def _suite(kube: Kube, namespace: str, analysis: Analysis) -> Suite:
    ref = analysis.suite.config_map_ref
    if ref is None:
        return default_suite()
    config_map = kube.get_object("v1", "configmaps", namespace, ref.name)
    if config_map is None:
        raise ValueError(f"suite ConfigMap {ref.name} not found")
    text = (config_map.get("data") or {}).get(ref.key)
    if text is None:
        raise ValueError(f"suite ConfigMap {ref.name} has no key {ref.key}")
    return load_suite(text)


def _dump(decision: Decision) -> Object:
    dumped: Object = decision.status.model_dump(by_alias=True, mode="json")
    return dumped


def observe(
    kube: Kube,
    spec: RolloutSpec,
    status: RolloutStatus,
    namespace: str,
    name: str,
    router: TrafficRouter,
) -> Observations:
    services = (objects.primary_name(name), objects.canary_name(name))
    primary = kube.get_object("apps/v1", "deployments", namespace, objects.primary_name(name))
    by_header = capability_router(router)
    routes: tuple[CapabilityRoute, ...] | None = None if by_header is None else ()
    if by_header is not None and (spec.capabilities or status.capabilities):
        routes = by_header.observe_capabilities()
    fallbacks = {
        capability: _fallback_view(kube, namespace, objects.fallback_name(name, capability))
        for capability in fallback_capabilities(spec, status.pins)
    }
    return Observations(
        target=deployment_view(
            kube.get_object("apps/v1", "deployments", namespace, spec.target_ref.name)
        ),
        primary=deployment_view(primary, primary=True),
        services_ready=all(kube.get_object("v1", "services", namespace, s) for s in services),
        route=router.observe(),
        rollout=name,
        capability_routes=routes,
        fallbacks=fallbacks,
    )


def _fallback_view(kube: Kube, namespace: str, name: str) -> DeploymentView | None:
    """A fallback Deployment; not ready without its Service (the operator may have been
    killed between the two), since no job could reach it."""
    deployment = kube.get_object("apps/v1", "deployments", namespace, name)
    view = deployment_view(deployment, primary=True)  # its revision: the operator's annotation
    if view is not None and kube.get_object("v1", "services", namespace, name) is None:
        return replace(view, ready=False)
    return view


def apply(
    kube: Kube,
    router: TrafficRouter,
    rollout: Object,
    spec: RolloutSpec,
    observations: Observations,
    action: Action,
) -> None:
    namespace = rollout["metadata"]["namespace"]
    match action:
        case SetWeight(canary_weight=weight):
            router.set_weight(weight)
        case ScaleCanary(replicas=replicas):
            kube.scale_deployment(namespace, spec.target_ref.name, replicas)
        case EnsurePrimary():
            assert observations.target is not None
            _ensure_primary(kube, rollout, action, observations.target.selector)
        case EnsureServices():
            _ensure_services(kube, rollout, spec, action)
        case RouteCapabilities(routes=routes):
            by_header = capability_router(router)
            assert by_header is not None, "decide routes capabilities only where it can"
            by_header.route_capabilities(routes)
        case EnsureFallback():
            assert observations.target is not None
            _ensure_fallback(kube, rollout, spec, action, observations.target.selector)
        case RemoveFallback(capability=capability):
            fallback = objects.fallback_name(rollout["metadata"]["name"], capability)
            kube.delete_object("v1", "services", namespace, fallback)
            kube.delete_object("apps/v1", "deployments", namespace, fallback)


def _ensure_primary(kube: Kube, rollout: Object, action: EnsurePrimary, selector: Any) -> None:
    body = objects.primary_deployment(
        rollout, action.template, selector, action.revision, action.replicas
    )
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    if kube.get_object("apps/v1", "deployments", namespace, name) is None:
        kube.create_object("apps/v1", "deployments", namespace, body)
        return

    def mutate(obj: Object) -> bool:
        obj["metadata"].setdefault("annotations", {}).update(body["metadata"]["annotations"])
        obj["spec"]["template"] = body["spec"]["template"]
        return True

    kube.update_object("apps/v1", "deployments", namespace, name, mutate)


def _ensure_services(
    kube: Kube, rollout: Object, spec: RolloutSpec, action: EnsureServices
) -> None:
    namespace, name = rollout["metadata"]["namespace"], rollout["metadata"]["name"]
    port = spec.service.port
    target_port = spec.service.target_port or port
    wanted = {
        objects.primary_name(name): action.primary_selector,
        objects.canary_name(name): action.canary_selector,
    }
    for service_name, selector in wanted.items():
        if kube.get_object("v1", "services", namespace, service_name) is None:
            body = objects.service(rollout, service_name, selector, port, target_port)
            kube.create_object("v1", "services", namespace, body)


def _ensure_fallback(
    kube: Kube, rollout: Object, spec: RolloutSpec, action: EnsureFallback, selector: Any
) -> None:
    """The pinned model's Deployment and Service; an existing one is left as it is."""
    namespace = rollout["metadata"]["namespace"]
    name = objects.fallback_name(rollout["metadata"]["name"], action.capability)
    if kube.get_object("apps/v1", "deployments", namespace, name) is None:
        body = objects.fallback_deployment(
            rollout, action.capability, action.template, selector, action.revision, action.replicas
        )
        kube.create_object("apps/v1", "deployments", namespace, body)
    if kube.get_object("v1", "services", namespace, name) is None:
        labels = objects.fallback_selector(selector, action.capability)
        port = spec.service.port
        body = objects.service(rollout, name, labels, port, spec.service.target_port or port)
        kube.create_object("v1", "services", namespace, body)
