"""Capabilities end to end: a canary that fails only logos, with Pin, is promoted for general
traffic while typography jobs stay on the old model (a fallback Deployment the operator owns).

On the Gateway API route the pin's life is walked: the operator SIGKILLed as the fallback
starts resumes it (same Deployment, no duplicate); a later canary that garbles logos as well
is judged against the pinned model and keeps the pin; one that passes the typography strata
releases it (rule back on the general weights, fallback deleted). On an
Istio VirtualService the managed match route leads typography jobs to the fallback, and
deleting the rollout removes that route and garbage-collects the fallback.

Real operator, real API server and garbage collector, demo model servers, real Tesseract; the
jobs' path is read from the route objects and, for the HTTPRoute, from synthetic traffic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from imagerollout.demo.provider_weights import weights_from_virtual_service
from imagerollout.demo.traffic import TrafficGenerator, weights_from_route
from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import WaitTimeoutError, wait_for
from tests.e2e.rollout_env import DEMO, NAME, RolloutEnv
from tests.e2e.route_watch import ObjectWatch
from tests.e2e.test_quality_gates import LOGO_REGRESSION, SUITE, analysis
from tests.e2e.traffic_providers import ISTIO, VIRTUAL_SERVICES

pytestmark = pytest.mark.e2e
JOB = {"x-image-job": "typography"}
FALLBACK = f"{NAME}-fallback-typography"
V1, V2, V3, V4 = (f"registry.example/imagegen:{v}" for v in ("v1", "v2", "v3", "v4"))
PRIMARY, CANARY = f"{NAME}-primary", f"{NAME}-canary"
TYPOGRAPHY = {
    "name": "typography",
    "match": {"headers": [{"name": "x-image-job", "value": "typography"}]},
    "strata": ["typography", "logos"],
}


def users_rules() -> list[dict[str, Any]]:
    """The HTTPRoute's rules as demo/imagegen.yaml writes them (with the API's defaults)."""
    docs = list(yaml.safe_load_all((DEMO / "imagegen.yaml").read_text()))
    route = next(d for d in docs if d["kind"] == "HTTPRoute")
    rules: list[dict[str, Any]] = route["spec"]["rules"]
    for rule in rules:
        rule["backendRefs"] = [
            {"group": "", "kind": "Service", "weight": 1, **b} for b in rule["backendRefs"]
        ]
    return rules


def capability_rule(env: RolloutEnv) -> dict[str, Any]:
    rules = env.get("httproute")["spec"]["rules"]
    assert rules[0]["name"] == "imagerollout-typography", "the operator's rule comes first"
    assert rules[1:] == users_rules(), "the user's rules stay as written"
    rule: dict[str, Any] = rules[0]
    return rule


def start_judged(env: RolloutEnv, tmp_path: Path, v1: str, v2: str, **spec: Any) -> None:
    """The demo rollout judged v1 against v2, typography a capability with Pin."""
    # Errors at 20 points: the general scope (plain scenes, a quarter of the pairs) passes
    # within about 75 pairs, while the logos Fail needs about 16 logo pairs.
    errors = {"name": "errors", "metric": "Errors", "maxDegradation": "20"}
    gates = analysis(v1, v2, tmp_path / "evidence", stage0={"samples": 64, "batchSize": 8})
    gates["gates"].append(errors)
    env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
    env.deploy_judged(analysis=gates, capabilities=[TYPOGRAPHY], onCapabilityFailure="Pin", **spec)


def assert_pinned(env: RolloutEnv, status: dict[str, Any]) -> None:
    """Promoted except typography, whose jobs a fallback the rollout owns serves with v1."""
    pin = status["pins"][0]
    assert (pin["capability"], pin["model"]) == ("typography", V1)
    assert pin["why"].startswith("text/logos failed: canary 0.")
    assert status["message"] == (
        f"promoted except typography ({pin['why']}); typography jobs stay on {V1}"
    )
    [where] = status["capabilities"]
    assert where["backends"] == [{"service": FALLBACK, "weight": 100}]
    assert (where["pinned"], where["model"]) == (True, V1)
    assert status["stable"]["model"] == V2
    fallback = env.get("deployment", FALLBACK)
    assert fallback["spec"]["template"]["spec"]["containers"][0]["image"] == V1
    owner = fallback["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("ImageModelRollout", NAME)
    assert env.get("service", FALLBACK)["spec"]["selector"] == {"app": FALLBACK}
    assert _image(env, PRIMARY) == V2


def test_a_logo_failure_with_pin_promotes_everything_but_typography_until_a_canary_passes(
    env: RolloutEnv, tmp_path: Path
) -> None:
    with (
        demo_server(tmp_path, "baseline", "--model-name", "v1") as v1,
        demo_server(tmp_path, "canary", "--model-name", "v2", *LOGO_REGRESSION) as v2,
        demo_server(tmp_path, "garbler", "--model-name", "v3", *LOGO_REGRESSION) as v3,
        demo_server(tmp_path, "fixed", "--model-name", "v4") as v4,
    ):
        start_judged(env, tmp_path, v1, v2)
        rule = wait_for(lambda: _rule_or_none(env), 30, 0.2, "the capability rule")
        assert rule["matches"] == [
            {
                "path": {"type": "PathPrefix", "value": "/v1/images"},
                "headers": [{"type": "Exact", "name": "x-image-job", "value": "typography"}],
            }
        ]
        assert rule["filters"] == users_rules()[0]["filters"]

        # SIGKILL the moment the fallback Deployment is created, before jobs move to it.
        killed = _kill_when_created(env, FALLBACK)
        try:
            env.set_model("v2")
            # ~60 s on an idle machine; a loaded 2-core CI box has taken 5 minutes.
            wait_for(lambda: killed, 600, 0.2, "the operator killed as the fallback starts")
        finally:
            killed.stop()
        assert _image(env, PRIMARY) == V1, "killed before the primary took the canary"
        uid = env.get("deployment", FALLBACK)["metadata"]["uid"]
        env.operator.start()
        status = _succeeded(env, V2, timeout=300)

        assert_pinned(env, status)
        assert env.get("deployment", FALLBACK)["metadata"]["uid"] == uid, "no second fallback"
        reasons = env.event_reasons()
        assert not {"FallbackLost", "ActionFailed"} & set(reasons), reasons
        rule = capability_rule(env)
        assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [(FALLBACK, 100)]
        route = env.get("httproute")
        assert weights_from_route(route, JOB) == {FALLBACK: 100}
        # Requests without the header never take the header rule (docs: the /docs rule).
        assert weights_from_route(route) == {PRIMARY: 100, CANARY: 0, "docs": 1}

        # Synthetic users: typography jobs reach v1, the others v2 (primary now runs v2).
        backends = {PRIMARY: v2, CANARY: v2, FALLBACK: v1}
        jobs = _traffic(env, backends, JOB)
        general = _traffic(env, backends, {})
        assert set(jobs) == {FALLBACK}, jobs
        assert jobs[FALLBACK]["ok"] >= 10, jobs
        assert set(general) == {PRIMARY}, general
        assert general[PRIMARY]["ok"] >= 10, general

        events = {e["reason"]: e for e in env.events()}
        assert events["CapabilityPinned"]["type"] == "Warning"
        assert f"typography pinned to {V1}" in events["CapabilityPinned"]["message"]
        assert "promoted except typography" in events["RolloutPromoted"]["message"]
        metrics = env.operator.scrape()
        labels = f'capability="typography",name="{NAME}",namespace="{env.namespace}"'
        series = f'imagerollout_capability_weight_percent{{backend="{FALLBACK}",{labels}}} 100.0'
        assert series in metrics

        # v3 garbles logos just as v2 does. Its typography strata are judged against v1, the
        # model those jobs are on (its fallbackEndpoint), not against v2: they fail again, so
        # v3 is promoted for general traffic and typography stays pinned to v1.
        path, value = "/spec/capabilities/0/fallbackEndpoint", {"url": v1}
        endpoint = {"op": "add", "path": path, "value": value}
        env.kubectl(
            "patch", "imr", NAME, "--type=json", "-p", json.dumps([*_arms(v2, v3), endpoint])
        )
        env.set_model("v3")
        status = _succeeded(env, V3, timeout=300)
        assert [(p["capability"], p["model"]) for p in status["pins"]] == [("typography", V1)]
        assert env.get("deployment", FALLBACK)["metadata"]["uid"] == uid, "the same fallback"
        assert "CapabilityReleased" not in env.event_reasons()

        # v4 against the stable v3, logos fixed: against v1 its typography strata pass now,
        # and the pin goes. (Looser gates pass in fewer pairs: this walk is about the pin.)
        loose = [
            {"op": "replace", "path": f"/spec/analysis/gates/{i}/maxDegradation", "value": "40"}
            for i in (0, 1)
        ]
        env.kubectl("patch", "imr", NAME, "--type=json", "-p", json.dumps(_arms(v3, v4) + loose))
        env.set_model("v4")
        status = _succeeded(env, V4, timeout=300)

    assert status.get("pins", []) == [], status.get("message")
    assert status["message"] == f"promoted {V4}", status["message"]
    [where] = status["capabilities"]  # between canaries, following the weights is the primary
    assert (where["backends"], where["pinned"]) == ([{"service": PRIMARY, "weight": 100}], False)
    wait_for(lambda: _gone(env, "deployment", FALLBACK), 30, 0.2, "the fallback Deployment gone")
    assert _gone(env, "service", FALLBACK)
    rule = capability_rule(env)
    assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [(PRIMARY, 100)]
    released = [e["message"] for e in env.events() if e["reason"] == "CapabilityReleased"]
    assert released == ["typography released: its strata passed"], released


def test_with_pin_on_istio_the_match_route_leads_typography_to_the_fallback_until_deleted(
    env: RolloutEnv, tmp_path: Path
) -> None:
    env.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(ISTIO.objects()))
    before = env.get(VIRTUAL_SERVICE)
    with (
        demo_server(tmp_path, "baseline", "--model-name", "v1") as v1,
        demo_server(tmp_path, "canary", "--model-name", "v2", *LOGO_REGRESSION) as v2,
    ):
        start_judged(env, tmp_path, v1, v2, trafficRouting=ISTIO.routing)
        env.set_model("v2")
        status = _succeeded(env, V2, timeout=300)
        # Synthetic users split by the VirtualService: typography jobs reach v1, others v2.
        backends = {PRIMARY: v2, CANARY: v2, FALLBACK: v1}
        jobs = _traffic(env, backends, JOB, VIRTUAL_SERVICE, weights_from_virtual_service)
        general = _traffic(env, backends, {}, VIRTUAL_SERVICE, weights_from_virtual_service)
    assert set(jobs) == {FALLBACK}, jobs
    assert jobs[FALLBACK]["ok"] >= 10, jobs
    assert set(general) == {PRIMARY}, general
    assert_pinned(env, status)

    ours, *users = env.get(VIRTUAL_SERVICE)["spec"]["http"]
    images = next(r for r in before["spec"]["http"] if r["name"] == "images")
    assert ours == {
        "name": f"imagerollout-{NAME}.typography",
        "match": [
            {"uri": {"prefix": "/v1/images"}, "headers": {"x-image-job": {"exact": "typography"}}}
        ],
        "headers": images["headers"],
        "retries": images["retries"],
        "route": [{"destination": {"host": FALLBACK, "port": {"number": 8080}}, "weight": 100}],
    }
    assert users == before["spec"]["http"], "the user's routes stay as written (at 100/0)"

    env.kubectl("delete", "imr", NAME)
    # Generous deadlines: on a loaded 2-core box the garbage collector can lag.
    wait_for(
        lambda: env.get(VIRTUAL_SERVICE)["spec"] == before["spec"],
        60,
        0.2,
        "the match route removed",
    )
    wait_for(lambda: _gone(env, "deployment", FALLBACK), 120, 0.2, "the fallback Deployment GC'd")
    wait_for(lambda: _gone(env, "service", FALLBACK), 120, 0.2, "the fallback Service GC'd")


VIRTUAL_SERVICE = f"{VIRTUAL_SERVICES[2]}.{VIRTUAL_SERVICES[0]}"


def _image(env: RolloutEnv, deployment: str) -> str:
    image: str = env.get("deployment", deployment)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    return image


class _Killer(ObjectWatch[bool]):
    """SIGKILLs the operator from the watch thread when `name` is first stored."""

    def __bool__(self) -> bool:
        return bool(self.values)


def _kill_when_created(env: RolloutEnv, name: str) -> _Killer:
    def seen(obj: dict[str, Any]) -> bool | None:
        if obj["metadata"]["name"] != name:
            return None
        if env.operator.proc is not None and env.operator.proc.poll() is None:
            env.operator.kill()
        return True

    resource = ("apps", "v1", "deployments")  # all of them: the watch starts on what exists
    return _Killer(env.cluster.kubeconfig, env.namespace, None, resource, seen)


def _arms(baseline: str, canary: str) -> list[dict[str, Any]]:
    """A JSON patch pointing the judge's two arms at these demo servers."""
    return [
        {"op": "replace", "path": f"/spec/analysis/endpoints/{arm}/url", "value": url}
        for arm, url in (("baseline", baseline), ("canary", canary))
    ]


def _succeeded(env: RolloutEnv, model: str, timeout: float) -> dict[str, Any]:
    """Wait for Succeeded with `model` stable; a timeout says where the rollout stood."""
    seen: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        seen.clear()
        seen.update(env.status())
        stable = (seen.get("stable") or {}).get("model")
        return seen if seen.get("phase") == "Succeeded" and stable == model else None

    try:
        return wait_for(check, timeout, 0.5, f"phase Succeeded with {model}")
    except WaitTimeoutError as error:
        raise AssertionError(f"{error}: {seen.get('phase')}: {seen.get('message')}") from error


def _rule_or_none(env: RolloutEnv) -> dict[str, Any] | None:
    rules = env.get("httproute")["spec"]["rules"]
    return rules[0] if rules and rules[0].get("name") == "imagerollout-typography" else None


def _gone(env: RolloutEnv, kind: str, name: str) -> bool:
    result = env.cluster.kubectl("-n", env.namespace, "get", kind, name, check=False)
    return result.returncode != 0 and "NotFound" in result.stderr


def _traffic(
    env: RolloutEnv,
    backends: dict[str, str],
    headers: dict[str, str],
    kind: str = "httproute",
    weights: Callable[[dict[str, Any], dict[str, str]], dict[str, int]] = weights_from_route,
) -> dict[str, dict[str, int]]:
    """20 requests split by the route object's weights for requests with these headers."""
    route = env.get(kind)
    generator = TrafficGenerator(
        lambda: weights(route, headers), backends, 20, seed=1, headers=headers
    )
    with generator:
        wait_for(
            lambda: sum(c["ok"] + c["failed"] for c in generator.counts().values()) >= 20,
            30,
            0.1,
            "20 requests answered",
        )
    return {name: c for name, c in generator.counts().items() if c["sent"]}
