"""Every traffic provider end to end: the operator process, real kubectl, real CRDs.

Istio's VirtualService and DestinationRule and the Inference Extension's InferencePool come
from their projects' Go modules (scripts/route-crds.sh). Each provider walks 0 -> 5 -> 25 ->
50 -> 100 -> 0 leaving the user's other routes, matches, filters and backends as written,
resumes after a SIGKILL without skipping or repeating a weight, reports a missing object, or
one without both backends, as a routing error until it is fixed, and aborts back to 0.
Gateway API with Service backends walks and aborts in test_rollout.py; its SIGKILL resume is
here, among the providers'.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import wait_for
from tests.e2e.rollout_env import DEMO, NAME, RolloutEnv, timed_steps
from tests.e2e.route_watch import ObjectWatch, RouteWatch
from tests.e2e.traffic_providers import (
    GATEWAY_API,
    INFERENCE_POOL,
    ISTIO,
    ISTIO_SUBSETS,
    PODS,
    REPLICAS,
    Object,
    PodCounts,
    Provider,
    model,
)

pytestmark = pytest.mark.e2e
WALK = [0, 5, 25, 50, 100, 0]


def providers(*chosen: Provider) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("provider", chosen, ids=[p.id for p in chosen])


def apply(env: RolloutEnv, objects: list[Object]) -> None:
    env.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))


def start(env: RolloutEnv, provider: Provider, steps: list[dict[str, Any]]) -> None:
    """The model and the rollout; the provider's own objects are the caller's to apply."""
    manifest = yaml.safe_load((DEMO / "rollout.yaml").read_text())
    manifest["spec"].update(trafficRouting=provider.routing, steps=steps, progressDeadline="2m")
    apply(env, [model(provider.replicas), manifest])


def deploy(env: RolloutEnv, provider: Provider, steps: list[dict[str, Any]]) -> None:
    apply(env, provider.objects())
    start(env, provider, steps)
    env.wait_phase("Initialized")
    wait_for(lambda: env.get("deployment")["spec"]["replicas"] == 0, 60, 0.2, "target at 0")


def current(env: RolloutEnv, provider: Provider) -> int | None:
    group, _, plural = provider.resource
    obj = env.get(f"{plural}.{group}" if group != "apps" else "deployment", provider.watched or "")
    return provider.weight(obj)


def kept(env: RolloutEnv, provider: Provider) -> dict[str, Object]:
    """The user's objects, weights blanked out."""
    out = {}
    for obj in provider.objects():
        kind = f"{obj['kind'].lower()}.{obj['apiVersion'].split('/')[0]}"
        kind = kind if "/" in obj["apiVersion"] else obj["kind"].lower()
        out[kind] = provider.kept(env.get(kind, obj["metadata"]["name"]))
    return out


def route_watch(env: RolloutEnv, provider: Provider) -> RouteWatch:
    assert provider.watched is not None
    return RouteWatch(
        env.cluster.kubeconfig, env.namespace, provider.watched, provider.resource, provider.weight
    )


def pods_watch(env: RolloutEnv) -> ObjectWatch[tuple[int, int]]:
    resource = ("apps", "v1", "deployments")
    return ObjectWatch(env.cluster.kubeconfig, env.namespace, None, resource, PodCounts())


def messages_watch(env: RolloutEnv) -> ObjectWatch[str]:
    resource = ("imagerollout.dev", "v1alpha1", "imagemodelrollouts")
    return ObjectWatch(
        env.cluster.kubeconfig,
        env.namespace,
        NAME,
        resource,
        lambda obj: (obj.get("status") or {}).get("message"),
    )


def is_subsequence(wanted: list[Any], seen: list[Any]) -> bool:
    items = iter(seen)
    return all(any(item == w for item in items) for w in wanted)


@providers(ISTIO, INFERENCE_POOL, REPLICAS)
def test_walks_every_weight_and_keeps_the_users_routes(env: RolloutEnv, provider: Provider) -> None:
    deploy(env, provider, timed_steps(5, 25, 50, 100, hold="1s"))
    before = kept(env, provider)
    watch, pods, messages = route_watch(env, provider), pods_watch(env), messages_watch(env)
    try:
        env.set_model("v2")
        status = env.wait_phase("Succeeded", timeout=120)
        wait_for(lambda: watch.weights[-1:] == [0], 30, 0.1, "weight 0 after promotion")
        wait_for(lambda: env.get("deployment")["spec"]["replicas"] == 0, 60, 0.2, "canary at 0")
    finally:
        for w in (watch, pods, messages):
            w.stop()

    assert watch.weights == WALK
    assert status["stable"]["model"] == "registry.example/imagegen:v2"
    assert kept(env, provider) == before
    if provider is ISTIO:  # lists both arms but is not among spec...routes
        legacy = env.get("virtualservices.networking.istio.io")["spec"]["http"][2]
        assert [d["weight"] for d in legacy["route"]] == [100, 0]
    if provider is REPLICAS:
        splits = [(PODS, 0), (9, 1), (7, 3), (5, 5), (0, PODS), (PODS, 0)]
        assert is_subsequence(splits, pods.values), pods.values
        assert min(p + c for p, c in pods.values) >= PODS, f"ran short of pods: {pods.values}"
        note = "3 canary of 10 pods is 30%, 5 points above the step's 25%"
        assert any(note in m for m in messages.values), messages.values


@providers(GATEWAY_API, ISTIO, INFERENCE_POOL, REPLICAS)
def test_sigkill_mid_rollout_resumes_without_skipping_or_repeating(
    env: RolloutEnv, provider: Provider
) -> None:
    deploy(env, provider, timed_steps(5, 25, 50, 100, hold="2s"))
    watch = route_watch(env, provider)
    try:
        env.set_model("v2")
        wait_for(lambda: env.status().get("canaryWeight") == 25, 60, 0.1, "weight 25")
        env.operator.kill()
        index_at_kill = env.status()["currentStepIndex"]
        env.operator.start()
        env.wait_phase("Succeeded", timeout=120)
        wait_for(lambda: watch.weights[-1:] == [0], 30, 0.1, "weight 0 after promotion")
    finally:
        watch.stop()
    assert index_at_kill == 1
    assert watch.weights == WALK
    updates = [e["message"] for e in env.events() if e["reason"] == "TrafficWeightUpdated"]
    assert [m.split("%")[0] for m in updates] == [f"canary {w}" for w in WALK[1:]]


def routing_error(env: RolloutEnv) -> str | None:
    conditions = {c["type"]: c for c in env.status().get("conditions", [])}
    invalid = conditions.get("InvalidSpec", {})
    return invalid.get("message") if invalid.get("reason") == "TrafficRoutingError" else None


@providers(ISTIO_SUBSETS, INFERENCE_POOL, REPLICAS)
def test_routing_errors_until_the_objects_are_right_then_an_abort_goes_back_to_0(
    env: RolloutEnv, provider: Provider
) -> None:
    """One rollout: its object missing, then lacking a backend, then right; then aborted."""
    start(env, provider, [*timed_steps(5, hold="1s"), {"weight": 50, "pause": {}}, {"weight": 100}])
    assert wait_for(lambda: routing_error(env), 60, 0.2, "a routing error") == provider.missing
    assert env.status()["message"] == f"traffic routing: {provider.missing}"

    apply(env, provider.broken())

    def lacking_error() -> str | None:
        error = routing_error(env)
        return error if error and error.startswith(provider.lacking) else None

    lacking = wait_for(lacking_error, 30, 0.2, "the error of an object without both backends")
    warnings = [
        (e["type"], e["message"]) for e in env.events() if e["reason"] == "TrafficRoutingError"
    ]
    assert warnings[0] == ("Warning", provider.missing), warnings
    assert warnings[-1] == ("Warning", lacking), warnings
    # kubectl creates the objects one by one, and each creation wakes the rollout (a watch):
    # one still missing in between (the second InferencePool) may be reported too.
    assert all(m.endswith("not found") for _, m in warnings[1:-1]), warnings

    apply(env, provider.objects())
    status = env.wait_phase("Initialized", timeout=60)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["InvalidSpec"]["status"] == "False", json.dumps(conditions)
    wait_for(lambda: env.get("deployment")["spec"]["replicas"] == 0, 60, 0.2, "target at 0")

    # Broken again while all is well: a watch reports it (no error stands, so nothing polls).
    apply(env, provider.broken())
    wait_for(lacking_error, 15, 0.2, "the error of an object broken again")
    apply(env, provider.objects())
    wait_for(lambda: routing_error(env) is None, 15, 0.2, "the error gone once fixed")

    env.set_model("v2")
    env.wait_phase("Paused", timeout=90)
    assert current(env, provider) == 50
    env.patch_status({"abort": True})
    status = env.wait_phase("Degraded", timeout=60)
    wait_for(lambda: current(env, provider) == 0, 30, 0.2, "weight 0")
    wait_for(lambda: env.get("deployment")["spec"]["replicas"] == 0, 60, 0.2, "canary at 0")
    if provider is REPLICAS:
        assert env.get("deployment", f"{NAME}-primary")["spec"]["replicas"] == PODS
    assert status["stable"]["model"] == "registry.example/imagegen:v1"
    aborted = [e for e in env.events() if e["reason"] == "RolloutAborted"]
    assert [e["type"] for e in aborted] == ["Warning"]
