"""Builders for the decision-core tests: specs, deployment views, observations and statuses.

Revisions are computed from real pod templates (template_revision), so an EnsurePrimary
action can be checked for carrying a template that matches its revision.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

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
from imagerollout.core import reasons as R
from imagerollout.core.durations import format_precise_time, format_time
from imagerollout.core.observations import (
    AnalysisObservation,
    DeploymentView,
    Observations,
    RouteView,
)
from imagerollout.core.rollout.actions import (
    Action,
    Decision,
    EnsurePrimary,
    Event,
    ScaleCanary,
    SetWeight,
)
from imagerollout.core.rollout.conditions import find
from imagerollout.core.rollout.revision import primary_selector, template_revision

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
NAME = "imagegen"
SELECTOR = {"app": NAME}
PRIMARY_SELECTOR = primary_selector(SELECTOR)
REPLICAS = 2

STABLE_IMAGE = "registry.example/imagegen:v1"
CANARY_IMAGE = "registry.example/imagegen:v2"
OTHER_IMAGE = "registry.example/imagegen:v3"


def template(image: str) -> dict[str, Any]:
    """A pod template like the one in demo/imagegen.yaml."""
    return {
        "metadata": {"labels": dict(SELECTOR)},
        "spec": {
            "containers": [{"name": "model", "image": image, "ports": [{"containerPort": 8080}]}]
        },
    }


def revision_of(image: str) -> str:
    return template_revision(template(image))


def revision(image: str) -> Revision:
    return Revision(revision=revision_of(image), model=image)


STABLE_REV = revision_of(STABLE_IMAGE)
CANARY_REV = revision_of(CANARY_IMAGE)
OTHER_REV = revision_of(OTHER_IMAGE)
STABLE = revision(STABLE_IMAGE)
CANARY = revision(CANARY_IMAGE)
OTHER = revision(OTHER_IMAGE)


# Time.


def at(seconds: float) -> datetime:
    """NOW shifted by `seconds` (negative for the past)."""
    return NOW + timedelta(seconds=seconds)


def ago(seconds: float) -> str:
    """A status timestamp `seconds` before NOW."""
    return format_time(at(-seconds))


def stamp(moment: datetime = NOW) -> str:
    return format_time(moment)


def step_stamp(moment: datetime = NOW) -> str:
    """A step start as decide() records it (milliseconds)."""
    return format_precise_time(moment)


# Spec.


def held(weight: int, duration: str = "30s") -> Step:
    """A step that holds its weight for `duration`."""
    return Step(weight=weight, pause=Pause(duration=duration))


def paused(weight: int) -> Step:
    """A step with `pause: {}`: it waits for a manual promote."""
    return Step(weight=weight, pause=Pause(duration=None))


def bare(weight: int) -> Step:
    """A step without a pause: it completes once its weight is set."""
    return Step(weight=weight, pause=None)


DEFAULT_STEPS = (held(5), held(25), held(50), held(100))


def make_spec(steps: Sequence[Step] = DEFAULT_STEPS, progress_deadline: str = "10m") -> RolloutSpec:
    """A spec parsed from a camelCase manifest, as the operator reads it."""
    return RolloutSpec.model_validate(
        {
            "targetRef": {"name": NAME},
            "service": {"port": 8080},
            "trafficRouting": {"gatewayAPI": {"httpRoute": {"name": NAME}}},
            "steps": [s.model_dump(by_alias=True, exclude_none=True) for s in steps],
            "progressDeadline": progress_deadline,
        }
    )


SPEC = make_spec()


# Observations.


def deployment(image: str, replicas: int = REPLICAS, ready: bool = True) -> DeploymentView:
    """The target Deployment (the canary arm) running `image`."""
    return DeploymentView(
        revision=revision_of(image),
        model=image,
        replicas=replicas,
        ready=ready,
        template=template(image),
        selector=dict(SELECTOR),
    )


def primary(
    image: str = STABLE_IMAGE, replicas: int = REPLICAS, ready: bool = True
) -> DeploymentView:
    """<name>-primary; its revision comes from the operator's annotation."""
    return DeploymentView(
        revision=revision_of(image),
        model=image,
        replicas=replicas,
        ready=ready,
        template=template(image),
        selector=dict(PRIMARY_SELECTOR),
    )


def make_obs(
    target: DeploymentView | None,
    primary: DeploymentView | None,
    *,
    route: int | None = 0,
    error: str | None = None,
    services: bool = True,
    analysis: AnalysisObservation | None = None,
    note: str | None = None,
    scales_pods: bool = False,
) -> Observations:
    return Observations(
        target=target,
        primary=primary,
        services_ready=services,
        route=RouteView(canary_weight=route, error=error, note=note, scales_pods=scales_pods),
        analysis=analysis,
    )


# Status.


def make_status(**fields: Any) -> RolloutStatus:
    """A validated status from snake_case field names; unknown names are an error."""
    unknown = set(fields) - set(RolloutStatus.model_fields)
    assert not unknown, f"not RolloutStatus fields: {sorted(unknown)}"
    return RolloutStatus.model_validate(fields)


def cond(type_: str, status: bool, reason: str, since: str | None = None) -> Condition:
    return Condition(
        type=type_,
        status="True" if status else "False",
        reason=reason,
        last_transition_time=since or ago(3600),
    )


def initialized(**fields: Any) -> RolloutStatus:
    """Primary serves the stable revision at 100%; no rollout."""
    base: dict[str, Any] = {
        "phase": Phase.INITIALIZED,
        "message": "stable; no rollout in progress",
        "stable": STABLE,
        "conditions": [
            cond(R.INVALID_SPEC, False, R.SPEC_VALID),
            cond(R.AVAILABLE, True, R.PRIMARY_AVAILABLE),
        ],
    }
    return make_status(**{**base, **fields})


def rolling(index: int, weight: int, **fields: Any) -> RolloutStatus:
    """A rollout of CANARY against STABLE at spec step `index`, the route at `weight`."""
    base: dict[str, Any] = {
        "phase": Phase.PROGRESSING,
        "message": f"step {index + 1}",
        "stable": STABLE,
        "canary": CANARY,
        "current_step_index": index,
        "canary_weight": weight,
        "rollout_started_at": ago(600),
        "conditions": [
            cond(R.INVALID_SPEC, False, R.SPEC_VALID),
            cond(R.AVAILABLE, True, R.PRIMARY_AVAILABLE),
            cond(R.PROGRESSING, True, R.ROLLOUT_STARTED, ago(600)),
            cond(R.PROMOTED, False, R.ROLLOUT_STARTED, ago(600)),
            cond(R.PAUSED, False, R.ROLLOUT_RESUMED, ago(600)),
        ],
    }
    return make_status(**{**base, **fields})


def manual_pause(since: str | None = None) -> PauseCondition:
    return PauseCondition(reason=R.MANUAL_PAUSE, start_time=since or ago(5))


# Reading decisions.


def reasons(decision: Decision) -> list[str]:
    return [event.reason for event in decision.events]


def completions(events: Sequence[Event]) -> list[str]:
    """Steps completed, posted alone (StepCompleted) or with the next step's weight."""
    found = []
    for event in events:
        if event.reason == R.STEP_COMPLETED:
            found.append(event.message)
        elif R.STEP_COMPLETED in event.also:
            found.append(event.message.split("; ", 1)[1])
    return found


def completes_step(decision: Decision) -> bool:
    return bool(completions(decision.events))


def warnings(decision: Decision) -> list[str]:
    return [event.reason for event in decision.events if event.warning]


def weights(actions: Sequence[Action]) -> list[int]:
    return [a.canary_weight for a in actions if isinstance(a, SetWeight)]


def condition_of(status: RolloutStatus, type_: str) -> tuple[str, str] | None:
    """(status, reason) of a condition, or None when it is absent."""
    found = find(list(status.conditions), type_)
    return None if found is None else (found.status, found.reason)


def after_actions(obs: Observations, actions: Sequence[Action]) -> tuple[int | None, int]:
    """(route weight, canary replicas) once the actions are applied in order."""
    assert obs.target is not None
    route, replicas = obs.route.canary_weight, obs.target.replicas
    for action in actions:
        if isinstance(action, SetWeight):
            route = action.canary_weight
        elif isinstance(action, ScaleCanary):
            replicas = action.replicas
    return route, replicas


def mismatched_primaries(actions: Sequence[Action]) -> list[EnsurePrimary]:
    """EnsurePrimary actions whose template does not hash to the revision they claim."""
    return [
        a
        for a in actions
        if isinstance(a, EnsurePrimary) and template_revision(a.template) != a.revision
    ]
