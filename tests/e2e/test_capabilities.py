"""Capabilities end to end: a canary that fails only logos, with Pin, is promoted for general
traffic while typography jobs stay on the old model (a fallback Deployment the operator owns).

Real operator, real API server and garbage collector, demo model servers, real Tesseract; the
jobs' path is read from the HTTPRoute and from synthetic traffic split by it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from imagerollout.demo.traffic import TrafficGenerator, weights_from_route
from tests.e2e.demo_servers import demo_server
from tests.e2e.helpers import WaitTimeoutError, wait_for
from tests.e2e.rollout_env import DEMO, NAME, RolloutEnv
from tests.e2e.test_quality_gates import LOGO_REGRESSION, SUITE, analysis

pytestmark = pytest.mark.e2e
JOB = {"x-image-job": "typography"}
FALLBACK = f"{NAME}-fallback-typography"
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


def test_a_logo_failure_with_pin_promotes_everything_but_typography(
    env: RolloutEnv, tmp_path: Path
) -> None:
    with (
        demo_server(tmp_path, "baseline", "--model-name", "v1") as v1,
        demo_server(tmp_path, "canary", "--model-name", "v2", *LOGO_REGRESSION) as v2,
    ):
        # Errors at 20 points: the general scope (plain scenes, a quarter of the pairs) passes
        # within about 75 pairs, while the logos Fail needs about 16 logo pairs.
        errors = {"name": "errors", "metric": "Errors", "maxDegradation": "20"}
        gates = analysis(v1, v2, tmp_path / "evidence", stage0={"samples": 64, "batchSize": 8})
        gates["gates"].append(errors)
        spec = {"capabilities": [TYPOGRAPHY], "onCapabilityFailure": "Pin"}
        env.kubectl("create", "configmap", "suite", f"--from-file=suite.yaml={SUITE}")
        env.deploy_judged(analysis=gates, **spec)
        rule = wait_for(lambda: _rule_or_none(env), 30, 0.2, "the capability rule")
        assert rule["matches"] == [
            {
                "path": {"type": "PathPrefix", "value": "/v1/images"},
                "headers": [{"type": "Exact", "name": "x-image-job", "value": "typography"}],
            }
        ]
        assert rule["filters"] == users_rules()[0]["filters"]

        env.set_model("v2")
        # ~75 s on an idle machine; a loaded 2-core CI box has taken 5 minutes.
        status = _succeeded(env, timeout=600)

        pin = status["pins"][0]
        assert (pin["capability"], pin["model"]) == ("typography", "registry.example/imagegen:v1")
        assert pin["why"].startswith("text/logos failed: canary 0.")
        assert status["message"] == (
            f"promoted except typography ({pin['why']}); "
            "typography jobs stay on registry.example/imagegen:v1"
        )
        [where] = status["capabilities"]
        assert where["backends"] == [{"service": FALLBACK, "weight": 100}]
        assert (where["pinned"], where["model"]) == (True, "registry.example/imagegen:v1")
        assert status["stable"]["model"] == "registry.example/imagegen:v2"

        # The fallback runs the old model, owned by the rollout; the route sends jobs there.
        fallback = env.get("deployment", FALLBACK)
        image = fallback["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == "registry.example/imagegen:v1"
        owner = fallback["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("ImageModelRollout", NAME)
        assert env.get("service", FALLBACK)["spec"]["selector"] == {"app": FALLBACK}
        primary_image = env.get("deployment", f"{NAME}-primary")["spec"]["template"]["spec"]
        assert primary_image["containers"][0]["image"] == "registry.example/imagegen:v2"
        rule = capability_rule(env)
        assert [(b["name"], b["weight"]) for b in rule["backendRefs"]] == [(FALLBACK, 100)]
        route = env.get("httproute")
        assert weights_from_route(route, JOB) == {FALLBACK: 100}
        # Requests without the header never take the header rule (docs: the /docs rule).
        assert weights_from_route(route) == {f"{NAME}-primary": 100, f"{NAME}-canary": 0, "docs": 1}

        # Synthetic users: typography jobs reach v1, the others v2 (primary now runs v2).
        backends = {f"{NAME}-primary": v2, f"{NAME}-canary": v2, FALLBACK: v1}
        jobs = _traffic(env, backends, JOB)
        general = _traffic(env, backends, {})
        assert set(jobs) == {FALLBACK}, jobs
        assert jobs[FALLBACK]["ok"] >= 10, jobs
        assert set(general) == {f"{NAME}-primary"}, general
        assert general[f"{NAME}-primary"]["ok"] >= 10, general

        events = {e["reason"]: e for e in env.events()}
        assert events["CapabilityPinned"]["type"] == "Warning"
        assert (
            "typography pinned to registry.example/imagegen:v1"
            in (events["CapabilityPinned"]["message"])
        )
        assert "promoted except typography" in events["RolloutPromoted"]["message"]
        metrics = env.operator.scrape()
        labels = f'capability="typography",name="{NAME}",namespace="{env.namespace}"'
        series = f'imagerollout_capability_weight_percent{{backend="{FALLBACK}",{labels}}} 100.0'
        assert series in metrics

    # Removing the capability releases the pin: the rule goes, the fallback goes.
    env.kubectl(
        "patch", "imr", NAME, "--type=json", "-p", '[{"op":"remove","path":"/spec/capabilities"}]'
    )
    wait_for(lambda: not env.status().get("pins"), 30, 0.2, "the pin released")
    wait_for(
        lambda: env.get("httproute")["spec"]["rules"] == users_rules(),
        30,
        0.2,
        "the capability rule removed",
    )
    wait_for(lambda: _gone(env, "deployment", FALLBACK), 30, 0.2, "the fallback Deployment gone")
    assert _gone(env, "service", FALLBACK)
    assert "CapabilityReleased" in env.event_reasons()


def _succeeded(env: RolloutEnv, timeout: float) -> dict[str, Any]:
    """Wait for Succeeded; a timeout says where the rollout stood."""
    seen: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        seen.clear()
        seen.update(env.status())
        return seen if seen.get("phase") == "Succeeded" else None

    try:
        return wait_for(check, timeout, 0.5, "phase Succeeded")
    except WaitTimeoutError as error:
        raise AssertionError(f"{error}: {seen.get('phase')}: {seen.get('message')}") from error


def _rule_or_none(env: RolloutEnv) -> dict[str, Any] | None:
    rules = env.get("httproute")["spec"]["rules"]
    return rules[0] if rules and rules[0].get("name") == "imagerollout-typography" else None


def _gone(env: RolloutEnv, kind: str, name: str) -> bool:
    result = env.cluster.kubectl("-n", env.namespace, "get", kind, name, check=False)
    return result.returncode != 0 and "NotFound" in result.stderr


def _traffic(
    env: RolloutEnv, backends: dict[str, str], headers: dict[str, str]
) -> dict[str, dict[str, int]]:
    """20 requests split by the route's weights for requests with these headers."""
    route = env.get("httproute")
    generator = TrafficGenerator(
        lambda: weights_from_route(route, headers), backends, 20, seed=1, headers=headers
    )
    with generator:
        wait_for(
            lambda: sum(c["ok"] + c["failed"] for c in generator.counts().values()) >= 20,
            30,
            0.1,
            "20 requests answered",
        )
    return {name: c for name, c in generator.counts().items() if c["sent"]}
