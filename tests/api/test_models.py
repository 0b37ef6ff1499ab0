"""The pydantic models read a camelCase manifest and dump back by alias."""

from __future__ import annotations

import copy
from typing import Any

import pydantic
import pytest

from imagerollout.api.notifications import Trigger
from imagerollout.api.v1alpha1 import (
    Condition,
    Pause,
    PauseCondition,
    Phase,
    Revision,
    RolloutSpec,
    RolloutStatus,
    Step,
)

MANIFEST_SPEC: dict[str, Any] = {
    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "imagegen"},
    "service": {"port": 8080, "targetPort": 9090},
    "trafficRouting": {"gatewayAPI": {"httpRoute": {"name": "imagegen-route"}}},
    "steps": [
        {"weight": 5, "pause": {"duration": "10s"}},
        {"weight": 25, "pause": {}},
        {"weight": 50},
        {"weight": 100, "pause": {"duration": "1h30m"}},
    ],
    "progressDeadline": "2m",
    "capabilities": [
        {
            "name": "typography",
            "match": {"headers": [{"name": "x-image-job", "value": "typography"}]},
            "strata": ["typography", "logos"],
            "target": "canary-rollout",
        },
        {
            "name": "posters",
            "match": {"headers": [{"name": "x-image-job", "value": "poster"}]},
            "strata": [],
            "target": "service",
            "service": "poster-model",
            "port": 9000,
        },
    ],
    "onCapabilityFailure": "Pin",
    "notifications": [
        {"provider": "oncall", "triggers": ["RolledBack", "Inconclusive"]},
        {"provider": "audit", "triggers": ["Started", "StepCompleted", "Promoted"]},
    ],
    "webhooks": [
        {
            "name": "ship",
            "type": "confirm-promotion",
            "url": "http://gate.ci:8080/confirm",
            "timeout": "30s",
            "metadata": {"team": "imaging"},
        }
    ],
}

STATUS: dict[str, Any] = {
    "phase": "Paused",
    "message": "step 2/4: canary 25%, primary 75%",
    "observedGeneration": 4,
    "canaryWeight": 25,
    "currentStepIndex": 1,
    "stepStartedAt": "2025-06-01T12:00:00Z",
    "blockedSince": None,
    "rolloutStartedAt": "2025-06-01T11:59:00Z",
    "stable": {"revision": "0765cffb43", "model": "registry.example/imagegen:v1"},
    "canary": {"revision": "da79546c1c", "model": "registry.example/imagegen:v2"},
    "controllerPause": True,
    "analysis": None,
    "metrics": None,
    "reportURL": None,
    "capabilities": [
        {
            "name": "typography",
            "backends": [{"service": "imagegen-primary", "weight": 100}],
            "model": "registry.example/imagegen:v1",
            "reason": "pinned: text/logos failed: canary 0.25 vs baseline 0.95",
            "pinned": True,
        }
    ],
    "pins": [
        {
            "capability": "typography",
            "model": "registry.example/imagegen:v1",
            "revision": "0765cffb43",
            "why": "text/logos failed: canary 0.25 vs baseline 0.95",
        }
    ],
    "samplerFindings": [
        {"rule": "high-guidance-few-steps", "action": "Warn", "message": "guidanceScale 12"}
    ],
    "conditions": [
        {
            "type": "Paused",
            "status": "True",
            "reason": "CanaryPauseStep",
            "message": "paused: CanaryPauseStep",
            "lastTransitionTime": "2025-06-01T12:00:00Z",
            "observedGeneration": 4,
        }
    ],
    "webhooks": {"passed": ["go", "smoke"]},
    "abort": False,
    "promoteFull": False,
    "promoteStep": False,
    "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2025-06-01T12:00:00Z"}],
}


def test_spec_parses_a_camel_case_manifest() -> None:
    spec = RolloutSpec.model_validate(MANIFEST_SPEC)

    assert spec.target_ref.name == "imagegen"
    assert (spec.service.port, spec.service.target_port) == (8080, 9090)
    assert spec.traffic_routing.gateway_api is not None
    assert spec.traffic_routing.gateway_api.http_route.name == "imagegen-route"
    assert spec.steps == [
        Step(weight=5, pause=Pause(duration="10s")),
        Step(weight=25, pause=Pause(duration=None)),
        Step(weight=50, pause=None),
        Step(weight=100, pause=Pause(duration="1h30m")),
    ]
    assert spec.progress_deadline == "2m"


def test_spec_dumps_back_by_alias() -> None:
    spec = RolloutSpec.model_validate(MANIFEST_SPEC)

    assert spec.model_dump(by_alias=True, exclude_none=True) == MANIFEST_SPEC


def test_spec_defaults() -> None:
    spec = RolloutSpec.model_validate(
        {
            "targetRef": {"name": "imagegen"},
            "service": {"port": 8080},
            "trafficRouting": {"gatewayAPI": {"httpRoute": {"name": "imagegen"}}},
            "steps": [{"weight": 100}],
        }
    )

    dumped = spec.model_dump(by_alias=True)
    assert dumped["targetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "imagegen",
    }
    assert dumped["service"] == {"port": 8080, "targetPort": None}
    assert dumped["progressDeadline"] == "10m"
    assert dumped["notifications"] == []
    assert dumped["webhooks"] == []


def test_spec_ignores_unknown_fields() -> None:
    manifest = copy.deepcopy(MANIFEST_SPEC)
    manifest["experimental"] = {"templates": []}

    assert RolloutSpec.model_validate(manifest) == RolloutSpec.model_validate(MANIFEST_SPEC)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("steps", 0, "weight"), 0, id="weight-0"),
        pytest.param(("steps", 0, "weight"), 101, id="weight-101"),
        pytest.param(("steps", 0, "pause", "duration"), "1d", id="pause-in-days"),
        pytest.param(("progressDeadline",), "5", id="deadline-without-unit"),
        pytest.param(("service", "port"), 0, id="port-0"),
        pytest.param(("targetRef", "kind"), "StatefulSet", id="not-a-deployment"),
        pytest.param(("targetRef", "name"), "Image_Gen", id="name-not-dns"),
        pytest.param(("steps",), [], id="no-steps"),
    ],
)
def test_spec_rejects(path: tuple[str | int, ...], value: Any) -> None:
    manifest = copy.deepcopy(MANIFEST_SPEC)
    node: Any = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value

    with pytest.raises(pydantic.ValidationError):
        RolloutSpec.model_validate(manifest)


def test_status_round_trips_by_alias() -> None:
    status = RolloutStatus.model_validate(STATUS)

    assert status.phase == Phase.PAUSED
    assert status.canary_weight == 25
    assert status.current_step_index == 1
    assert status.stable == Revision(revision="0765cffb43", model="registry.example/imagegen:v1")
    assert status.controller_pause is True
    assert status.pause_conditions == [
        PauseCondition(reason="CanaryPauseStep", start_time="2025-06-01T12:00:00Z")
    ]
    assert status.conditions[0].last_transition_time == "2025-06-01T12:00:00Z"
    assert status.model_dump(by_alias=True, mode="json") == STATUS


def test_empty_status_is_the_default() -> None:
    status = RolloutStatus.model_validate({})

    assert status == RolloutStatus()
    assert (status.phase, status.canary_weight, status.current_step_index) == (None, 0, None)
    assert (status.abort, status.promote_full, status.promote_step) == (False, False, False)
    assert status.pause_conditions == []


def test_condition_status_must_be_true_false_or_unknown() -> None:
    with pytest.raises(pydantic.ValidationError):
        Condition.model_validate(
            {"type": "Paused", "status": "yes", "reason": "X", "lastTransitionTime": "t"}
        )


def test_models_are_frozen() -> None:
    status = RolloutStatus.model_validate(STATUS)

    with pytest.raises(pydantic.ValidationError):
        status.canary_weight = 50  # type: ignore[misc]


def test_a_subscription_without_triggers_gets_all_of_them() -> None:
    spec = RolloutSpec.model_validate({**MANIFEST_SPEC, "notifications": [{"provider": "oncall"}]})

    assert spec.notifications[0].triggers == list(Trigger)
    assert [t.value for t in Trigger] == [
        "Started",
        "StepCompleted",
        "Paused",
        "Promoted",
        "RolledBack",
        "Inconclusive",
    ]
