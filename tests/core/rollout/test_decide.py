"""Table-driven tests of the rollout state machine, plus multi-call runs on a fake cluster."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from imagerollout.api.v1alpha1 import (
    PauseCondition,
    Phase,
    RolloutSpec,
    RolloutStatus,
    Step,
)
from imagerollout.core import reasons as R
from imagerollout.core.observations import Observations
from imagerollout.core.rollout.actions import (
    Action,
    Decision,
    EnsurePrimary,
    EnsureServices,
    ScaleCanary,
    SetWeight,
)
from imagerollout.core.rollout.conditions import find
from imagerollout.core.rollout.decide import decide, unreadable_spec
from tests.core.builders import (
    CANARY,
    CANARY_IMAGE,
    CANARY_REV,
    NOW,
    OTHER,
    OTHER_IMAGE,
    PRIMARY_SELECTOR,
    REPLICAS,
    SELECTOR,
    SPEC,
    STABLE,
    STABLE_IMAGE,
    STABLE_REV,
    after_actions,
    ago,
    at,
    bare,
    completes_step,
    completions,
    condition_of,
    deployment,
    held,
    initialized,
    make_obs,
    make_spec,
    make_status,
    manual_pause,
    mismatched_primaries,
    paused,
    primary,
    reasons,
    rolling,
    stamp,
    step_stamp,
    warnings,
    weights,
)
from tests.core.fake_cluster import FakeCluster, Run

T = TypeVar("T")
GENERATION = 7
PAUSE_STEP_SPEC = make_spec([held(5), paused(25), held(50), held(100)])
ROUTE_ERROR = "HTTPRoute imagegen not found"


@dataclass(frozen=True)
class Case:
    """One call of decide(): inputs, and what the decision must contain."""

    status: RolloutStatus
    obs: Observations
    actions: tuple[Action, ...]
    fields: Mapping[str, Any]
    events: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    conditions: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    spec: RolloutSpec = SPEC
    now: datetime = NOW


def case(id_: str, c: Case) -> pytest.ParameterSet:
    return pytest.param(c, id=id_)


CANARY_READY = deployment(CANARY_IMAGE)
CANARY_DOWN = deployment(CANARY_IMAGE, replicas=0)
STABLE_PRIMARY = primary()

CASES = [
    # --- Spec and initialization -------------------------------------------------------
    case(
        "target-missing",
        Case(
            status=make_status(),
            obs=make_obs(None, None, route=0, services=False),
            actions=(),
            fields={"phase": Phase.DEGRADED, "message": "Deployment imagegen not found"},
            conditions={R.INVALID_SPEC: ("True", R.TARGET_NOT_FOUND)},
        ),
    ),
    case(
        "target-missing-mid-rollout-takes-traffic-off-the-canary",
        Case(
            status=rolling(2, 50, step_started_at=ago(5)),
            obs=make_obs(None, STABLE_PRIMARY, route=50),
            actions=(SetWeight(0),),
            fields={"phase": Phase.DEGRADED, "canary_weight": 0, "stable": STABLE},
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
            conditions={R.INVALID_SPEC: ("True", R.TARGET_NOT_FOUND)},
        ),
    ),
    case(
        "target-missing-and-route-broken-acts-on-nothing",
        Case(
            status=rolling(2, 50, step_started_at=ago(5)),
            obs=make_obs(None, STABLE_PRIMARY, route=None, error=ROUTE_ERROR),
            actions=(),
            fields={"phase": Phase.DEGRADED, "canary_weight": 50},
            conditions={R.INVALID_SPEC: ("True", R.TARGET_NOT_FOUND)},
        ),
    ),
    case(
        "first-initialization",
        Case(
            status=make_status(),
            obs=make_obs(deployment(STABLE_IMAGE), None, route=None, services=False),
            actions=(
                EnsureServices(PRIMARY_SELECTOR, SELECTOR),
                EnsurePrimary({}, STABLE_REV, REPLICAS),
            ),
            fields={
                "phase": Phase.INITIALIZING,
                "stable": STABLE,
                "canary": None,
                "canary_weight": 0,
                "observed_generation": GENERATION,
            },
            events=(R.INITIALIZING,),
            conditions={
                R.INVALID_SPEC: ("False", R.SPEC_VALID),
                R.AVAILABLE: ("False", R.INITIALIZING),
            },
        ),
    ),
    case(
        "first-initialization-target-at-zero-replicas-gets-one-primary-pod",
        Case(
            status=make_status(),
            obs=make_obs(deployment(STABLE_IMAGE, replicas=0), None),
            actions=(EnsurePrimary({}, STABLE_REV, 1),),
            fields={"phase": Phase.INITIALIZING, "stable": STABLE},
            events=(R.INITIALIZING,),
        ),
    ),
    case(
        "primary-not-ready-keeps-initializing",
        Case(
            status=make_status(phase=Phase.INITIALIZING, stable=STABLE),
            obs=make_obs(deployment(STABLE_IMAGE), primary(ready=False), route=None),
            actions=(),
            fields={"phase": Phase.INITIALIZING, "stable": STABLE},
            conditions={R.AVAILABLE: ("False", R.PRIMARY_UNAVAILABLE)},
        ),
    ),
    case(
        "primary-ready-initialized",
        Case(
            status=make_status(phase=Phase.INITIALIZING, stable=STABLE),
            obs=make_obs(deployment(STABLE_IMAGE), STABLE_PRIMARY, route=None),
            actions=(SetWeight(0), ScaleCanary(0)),
            fields={
                "phase": Phase.INITIALIZED,
                "stable": STABLE,
                "canary_weight": 0,
                "current_step_index": None,
            },
            events=(R.INITIALIZED,),
            conditions={R.AVAILABLE: ("True", R.PRIMARY_AVAILABLE)},
        ),
    ),
    case(
        "primary-ready-route-and-canary-already-right",
        Case(
            status=make_status(phase=Phase.INITIALIZING, stable=STABLE),
            obs=make_obs(deployment(STABLE_IMAGE, replicas=0), STABLE_PRIMARY, route=0),
            actions=(),
            fields={"phase": Phase.INITIALIZED, "canary_weight": 0},
            events=(R.INITIALIZED,),
        ),
    ),
    case(
        "initialized-is-quiet",
        Case(
            status=initialized(),
            obs=make_obs(deployment(STABLE_IMAGE, replicas=0), STABLE_PRIMARY),
            actions=(),
            fields={"phase": Phase.INITIALIZED, "stable": STABLE, "canary": None},
        ),
    ),
    case(
        "services-deleted-are-recreated",
        Case(
            status=initialized(),
            obs=make_obs(deployment(STABLE_IMAGE, replicas=0), STABLE_PRIMARY, services=False),
            actions=(EnsureServices(PRIMARY_SELECTOR, SELECTOR),),
            fields={"phase": Phase.INITIALIZED},
        ),
    ),
    # --- Starting a rollout --------------------------------------------------------------
    case(
        "new-revision-starts-and-scales-canary",
        Case(
            status=initialized(),
            obs=make_obs(deployment(CANARY_IMAGE, replicas=0, ready=False), STABLE_PRIMARY),
            actions=(ScaleCanary(REPLICAS),),
            fields={
                "phase": Phase.PROGRESSING,
                "canary": CANARY,
                "stable": STABLE,
                "current_step_index": 0,
                "canary_weight": 0,
                "rollout_started_at": stamp(),
                "blocked_since": stamp(),
                "step_started_at": None,
            },
            events=(R.ROLLOUT_STARTED,),
            conditions={
                R.PROGRESSING: ("True", R.WAITING_FOR_CANARY),
                R.PROMOTED: ("False", R.ROLLOUT_STARTED),
            },
        ),
    ),
    case(
        "new-revision-with-ready-canary-sets-first-weight",
        Case(
            status=initialized(),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY),
            actions=(SetWeight(5),),
            fields={
                "phase": Phase.PROGRESSING,
                "canary": CANARY,
                "current_step_index": 0,
                "canary_weight": 5,
                "step_started_at": step_stamp(),
                "blocked_since": None,
            },
            events=(R.ROLLOUT_STARTED, R.TRAFFIC_WEIGHT_UPDATED),
            conditions={R.PROGRESSING: ("True", R.ROLLOUT_STARTED)},
        ),
    ),
    # --- Waiting for the canary ----------------------------------------------------------
    case(
        "canary-not-ready-scales-to-primary-replicas-and-waits",
        Case(
            status=rolling(0, 0),
            obs=make_obs(deployment(CANARY_IMAGE, replicas=0, ready=False), STABLE_PRIMARY),
            actions=(ScaleCanary(REPLICAS),),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 0,
                "canary_weight": 0,
                "blocked_since": stamp(),
            },
            conditions={R.PROGRESSING: ("True", R.WAITING_FOR_CANARY)},
        ),
    ),
    case(
        "canary-scaled-but-pods-not-ready-keeps-blocked-since",
        Case(
            status=rolling(0, 0, blocked_since=ago(120)),
            obs=make_obs(deployment(CANARY_IMAGE, ready=False), STABLE_PRIMARY),
            actions=(),
            fields={"phase": Phase.PROGRESSING, "blocked_since": ago(120), "canary_weight": 0},
            conditions={R.PROGRESSING: ("True", R.WAITING_FOR_CANARY)},
        ),
    ),
    case(
        "canary-ready-sets-weight-5",
        Case(
            status=rolling(0, 0, blocked_since=ago(20)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY),
            actions=(SetWeight(5),),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 0,
                "canary_weight": 5,
                "step_started_at": step_stamp(),
                "blocked_since": None,
                "message": "step 1/4: canary 5%, primary 95%",
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
        ),
    ),
    # --- Holding and completing steps -----------------------------------------------------
    case(
        "hold-not-elapsed-does-nothing",
        Case(
            status=rolling(0, 5, step_started_at=ago(29)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=5),
            actions=(),
            fields={"current_step_index": 0, "canary_weight": 5, "step_started_at": ago(29)},
        ),
    ),
    case(
        "hold-elapsed-completes-step-and-sets-the-next-weight",
        Case(
            status=rolling(0, 5, step_started_at=ago(30)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=5),
            actions=(SetWeight(25),),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 1,
                "canary_weight": 25,
                "step_started_at": step_stamp(),
                "message": "step 2/4: canary 25%, primary 75%",
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
        ),
    ),
    case(
        "step-recorded-before-its-weight-sets-the-weight",
        Case(
            status=rolling(1, 5),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=5),
            actions=(SetWeight(25),),
            fields={"current_step_index": 1, "canary_weight": 25, "step_started_at": step_stamp()},
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
        ),
    ),
    case(
        "route-already-at-weight-status-stale-after-crash",
        Case(
            status=rolling(1, 5),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(),
            fields={"current_step_index": 1, "canary_weight": 25, "step_started_at": step_stamp()},
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
        ),
    ),
    case(
        "bare-step-completes-once-its-weight-is-recorded",
        Case(
            spec=make_spec([bare(5), held(100)]),
            status=rolling(0, 5, step_started_at=stamp()),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=5),
            actions=(SetWeight(100),),
            fields={"current_step_index": 1, "canary_weight": 100},
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
        ),
    ),
    # --- Promotion -----------------------------------------------------------------------
    case(
        "last-step-done-promotes",
        Case(
            status=rolling(3, 100, step_started_at=ago(30)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=100),
            actions=(EnsurePrimary({}, CANARY_REV, REPLICAS),),
            fields={
                "phase": Phase.PROMOTING,
                "current_step_index": 4,
                "canary_weight": 100,
                "stable": STABLE,
                "canary": CANARY,
                "blocked_since": stamp(),
            },
            events=(R.STEP_COMPLETED, R.ROLLOUT_PROMOTING),
            conditions={R.PROGRESSING: ("True", R.ROLLOUT_PROMOTING)},
        ),
    ),
    case(
        "promoting-waits-for-primary-pods",
        Case(
            status=rolling(4, 100, phase=Phase.PROMOTING, blocked_since=ago(20)),
            obs=make_obs(CANARY_READY, primary(CANARY_IMAGE, ready=False), route=100),
            actions=(),
            fields={"phase": Phase.PROMOTING, "blocked_since": ago(20), "stable": STABLE},
        ),
    ),
    case(
        "primary-at-canary-and-ready-succeeds",
        Case(
            status=rolling(4, 100, phase=Phase.PROMOTING, blocked_since=ago(20)),
            obs=make_obs(CANARY_READY, primary(CANARY_IMAGE), route=100),
            actions=(SetWeight(0), ScaleCanary(0)),
            fields={
                "phase": Phase.SUCCEEDED,
                "stable": CANARY,
                "canary": None,
                "canary_weight": 0,
                "current_step_index": None,
                "blocked_since": None,
                "step_started_at": None,
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED, R.ROLLOUT_PROMOTED),
            conditions={
                R.PROGRESSING: ("False", R.ROLLOUT_PROMOTED),
                R.PROMOTED: ("True", R.ROLLOUT_PROMOTED),
            },
        ),
    ),
    case(
        "succeeded-is-quiet",
        Case(
            status=initialized(phase=Phase.SUCCEEDED, stable=CANARY, message="promoted v2"),
            obs=make_obs(deployment(CANARY_IMAGE, replicas=0), primary(CANARY_IMAGE)),
            actions=(),
            fields={"phase": Phase.SUCCEEDED, "stable": CANARY, "message": "promoted v2"},
        ),
    ),
    case(
        "promote-step-completes-the-current-step-now",
        Case(
            status=rolling(1, 25, step_started_at=ago(5), promote_step=True),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(SetWeight(50),),
            fields={"current_step_index": 2, "promote_step": False, "canary_weight": 50},
            events=(R.TRAFFIC_WEIGHT_UPDATED,),
        ),
    ),
    case(
        "promote-full-skips-remaining-steps",
        Case(
            status=rolling(1, 25, step_started_at=ago(5), promote_full=True),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(EnsurePrimary({}, CANARY_REV, REPLICAS),),
            fields={"phase": Phase.PROMOTING, "current_step_index": 4, "canary_weight": 25},
            events=(R.ROLLOUT_PROMOTING,),
        ),
    ),
    # --- Abort and retry -----------------------------------------------------------------
    case(
        "abort-rolls-back",
        Case(
            status=rolling(1, 25, step_started_at=ago(5), abort=True),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(SetWeight(0), ScaleCanary(0)),
            fields={
                "phase": Phase.DEGRADED,
                "abort": True,
                "canary_weight": 0,
                "canary": CANARY,
                "stable": STABLE,
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED, R.ROLLOUT_ABORTED),
            warnings=(R.ROLLOUT_ABORTED,),
            conditions={R.PROGRESSING: ("False", R.ROLLOUT_ABORTED)},
        ),
    ),
    case(
        "aborted-again-is-quiet",
        Case(
            status=rolling(1, 0, phase=Phase.DEGRADED, abort=True),
            obs=make_obs(CANARY_DOWN, STABLE_PRIMARY, route=0),
            actions=(),
            fields={"phase": Phase.DEGRADED, "abort": True, "canary_weight": 0},
        ),
    ),
    case(
        "retry-restarts-at-step-0",
        Case(
            status=rolling(2, 0, phase=Phase.DEGRADED, abort=False),
            obs=make_obs(CANARY_DOWN, STABLE_PRIMARY, route=0),
            actions=(ScaleCanary(REPLICAS),),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 0,
                "abort": False,
                "canary": CANARY,
                "rollout_started_at": stamp(),
            },
            events=(R.ROLLOUT_RETRIED,),
            conditions={R.PROGRESSING: ("True", R.WAITING_FOR_CANARY)},
        ),
    ),
    case(
        "progress-deadline-not-yet-exceeded",
        Case(
            status=rolling(0, 0, blocked_since=ago(600)),
            obs=make_obs(deployment(CANARY_IMAGE, ready=False), STABLE_PRIMARY),
            actions=(),
            fields={"phase": Phase.PROGRESSING, "blocked_since": ago(600), "abort": False},
        ),
    ),
    case(
        "progress-deadline-exceeded-aborts",
        Case(
            status=rolling(0, 0, blocked_since=ago(601)),
            obs=make_obs(deployment(CANARY_IMAGE, ready=False), STABLE_PRIMARY),
            actions=(ScaleCanary(0),),
            fields={
                "phase": Phase.DEGRADED,
                "abort": True,
                "blocked_since": None,
                "canary_weight": 0,
            },
            events=(R.PROGRESS_DEADLINE_EXCEEDED,),
            warnings=(R.PROGRESS_DEADLINE_EXCEEDED,),
            conditions={R.PROGRESSING: ("False", R.PROGRESS_DEADLINE_EXCEEDED)},
        ),
    ),
    case(
        "promotion-deadline-exceeded-aborts",
        Case(
            status=rolling(4, 100, phase=Phase.PROMOTING, blocked_since=ago(601)),
            obs=make_obs(CANARY_READY, primary(CANARY_IMAGE, ready=False), route=100),
            actions=(SetWeight(0), ScaleCanary(0)),
            fields={"phase": Phase.DEGRADED, "abort": True, "canary_weight": 0},
            events=(R.TRAFFIC_WEIGHT_UPDATED, R.PROGRESS_DEADLINE_EXCEEDED),
            warnings=(R.PROGRESS_DEADLINE_EXCEEDED,),
        ),
    ),
    # --- The target moves during a rollout ------------------------------------------------
    case(
        "target-changed-mid-rollout-restarts",
        Case(
            status=rolling(2, 50, step_started_at=ago(5)),
            obs=make_obs(deployment(OTHER_IMAGE), STABLE_PRIMARY, route=50),
            actions=(SetWeight(0), SetWeight(5)),
            fields={
                "phase": Phase.PROGRESSING,
                "canary": OTHER,
                "current_step_index": 0,
                "canary_weight": 5,
                "step_started_at": step_stamp(),
                "rollout_started_at": stamp(),
            },
            events=(R.ROLLOUT_RESTARTED, R.TRAFFIC_WEIGHT_UPDATED, R.TRAFFIC_WEIGHT_UPDATED),
            conditions={R.PROGRESSING: ("True", R.ROLLOUT_RESTARTED)},
        ),
    ),
    case(
        "target-reverted-to-stable-cancels",
        Case(
            status=rolling(2, 50, step_started_at=ago(5)),
            obs=make_obs(deployment(STABLE_IMAGE), STABLE_PRIMARY, route=50),
            actions=(SetWeight(0), ScaleCanary(0)),
            fields={
                "phase": Phase.INITIALIZED,
                "stable": STABLE,
                "canary": None,
                "canary_weight": 0,
                "current_step_index": None,
                "step_started_at": None,
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED, R.ROLLOUT_CANCELLED),
            conditions={R.PROGRESSING: ("False", R.ROLLOUT_CANCELLED)},
        ),
    ),
    # --- Pauses --------------------------------------------------------------------------
    case(
        "manual-pause-holds-an-elapsed-step",
        Case(
            status=rolling(1, 25, step_started_at=ago(60), pause_conditions=[manual_pause()]),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(),
            fields={"phase": Phase.PAUSED, "current_step_index": 1, "canary_weight": 25},
            events=(R.ROLLOUT_PAUSED,),
            conditions={R.PAUSED: ("True", R.MANUAL_PAUSE)},
        ),
    ),
    case(
        "still-paused-is-quiet",
        Case(
            status=rolling(
                1,
                25,
                phase=Phase.PAUSED,
                step_started_at=ago(60),
                pause_conditions=[manual_pause()],
            ),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(),
            fields={"phase": Phase.PAUSED, "current_step_index": 1},
        ),
    ),
    case(
        "resume",
        Case(
            status=rolling(1, 25, phase=Phase.PAUSED, step_started_at=ago(10)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(),
            fields={"phase": Phase.PROGRESSING, "current_step_index": 1},
            events=(R.ROLLOUT_RESUMED,),
            conditions={R.PAUSED: ("False", R.ROLLOUT_RESUMED)},
        ),
    ),
    case(
        "indefinite-pause-step-pauses",
        Case(
            spec=PAUSE_STEP_SPEC,
            status=rolling(1, 25, step_started_at=ago(5)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(),
            fields={
                "phase": Phase.PAUSED,
                "current_step_index": 1,
                "controller_pause": True,
                "pause_conditions": [
                    PauseCondition(reason=R.CANARY_PAUSE_STEP, start_time=stamp())
                ],
            },
            events=(R.ROLLOUT_PAUSED,),
            conditions={R.PAUSED: ("True", R.CANARY_PAUSE_STEP)},
        ),
    ),
    case(
        "indefinite-pause-step-waits-forever",
        Case(
            spec=PAUSE_STEP_SPEC,
            status=rolling(
                1,
                25,
                phase=Phase.PAUSED,
                step_started_at=ago(86400),
                controller_pause=True,
                pause_conditions=[PauseCondition(reason=R.CANARY_PAUSE_STEP, start_time=ago(9))],
            ),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(),
            fields={"phase": Phase.PAUSED, "current_step_index": 1, "controller_pause": True},
        ),
    ),
    case(
        "indefinite-pause-step-completes-after-resume",
        Case(
            spec=PAUSE_STEP_SPEC,
            status=rolling(
                1, 25, phase=Phase.PAUSED, step_started_at=ago(60), controller_pause=True
            ),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(SetWeight(50),),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 2,
                "canary_weight": 50,
                "controller_pause": False,
                "pause_conditions": [],
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED, R.ROLLOUT_RESUMED),
            conditions={R.PAUSED: ("False", R.ROLLOUT_RESUMED)},
        ),
    ),
    case(
        "promote-step-releases-an-indefinite-pause",
        Case(
            spec=PAUSE_STEP_SPEC,
            status=rolling(
                1,
                25,
                phase=Phase.PAUSED,
                step_started_at=ago(60),
                controller_pause=True,
                promote_step=True,
                pause_conditions=[PauseCondition(reason=R.CANARY_PAUSE_STEP, start_time=ago(9))],
            ),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
            actions=(SetWeight(50),),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 2,
                "promote_step": False,
                "pause_conditions": [],
            },
            events=(R.TRAFFIC_WEIGHT_UPDATED, R.ROLLOUT_RESUMED),
        ),
    ),
    # --- Routing errors ------------------------------------------------------------------
    case(
        "routing-error-reports-and-acts-on-nothing",
        Case(
            status=rolling(1, 25, step_started_at=ago(60)),
            obs=make_obs(CANARY_READY, STABLE_PRIMARY, route=None, error=ROUTE_ERROR),
            actions=(),
            fields={
                "phase": Phase.PROGRESSING,
                "current_step_index": 1,
                "canary_weight": 25,
                "message": f"traffic routing: {ROUTE_ERROR}",
            },
            events=(R.TRAFFIC_ROUTING_ERROR,),
            warnings=(R.TRAFFIC_ROUTING_ERROR,),
            conditions={R.INVALID_SPEC: ("True", R.TRAFFIC_ROUTING_ERROR)},
        ),
    ),
]


@pytest.mark.parametrize("c", CASES)
def test_decide(c: Case) -> None:
    decision = decide(c.spec, c.status, c.obs, c.now, GENERATION)

    assert decision.actions == c.actions
    assert mismatched_primaries(decision.actions) == []
    assert {name: getattr(decision.status, name) for name in c.fields} == dict(c.fields)
    assert reasons(decision) == list(c.events)
    assert warnings(decision) == list(c.warnings)
    assert {t: condition_of(decision.status, t) for t in c.conditions} == dict(c.conditions)
    assert decision.status.observed_generation == GENERATION


# --- Follow-up calls: what a second decide() on the result does ----------------------------


def test_weight_recorded_after_crash_is_recorded_once() -> None:
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=25)
    first = decide(SPEC, rolling(1, 5), obs, NOW)
    second = decide(SPEC, first.status, obs, at(10))

    assert (weights(first.actions), reasons(first)) == ([], [R.TRAFFIC_WEIGHT_UPDATED])
    assert (second.actions, second.events) == ((), ())
    assert second.status.canary_weight == 25
    assert second.status.step_started_at == step_stamp()


def test_abort_event_is_emitted_once() -> None:
    first = decide(
        SPEC,
        rolling(1, 25, abort=True),
        make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
        NOW,
    )
    # The cluster after the rollback: route at 0, canary scaled to zero.
    second = decide(SPEC, first.status, make_obs(CANARY_DOWN, STABLE_PRIMARY), at(10))

    assert reasons(first) == [R.TRAFFIC_WEIGHT_UPDATED, R.ROLLOUT_ABORTED]
    assert (second.actions, second.events) == ((), ())
    assert second.status.phase == Phase.DEGRADED
    assert condition_of(second.status, R.PROGRESSING) == ("False", R.ROLLOUT_ABORTED)


def test_a_rolled_back_rollout_keeps_the_cause_in_its_message() -> None:
    cause = "rolled back: errors gate failed (canary 0.25 vs baseline 0.00); primary 100%"
    status = rolling(1, 0, abort=True, phase=Phase.DEGRADED, message=cause)

    after = decide(SPEC, status, make_obs(CANARY_DOWN, STABLE_PRIMARY, route=0), at(10))

    assert after.status.message == cause


def test_a_promoted_rollout_keeps_its_message_while_the_primary_grows_back() -> None:
    promoted = "registry.example/imagegen:v2 promoted except typography (text/logos failed)"
    status = initialized(phase=Phase.SUCCEEDED, message=promoted)
    not_ready = make_obs(deployment(STABLE_IMAGE, replicas=0), primary(ready=False))

    after = decide(SPEC, status, not_ready, NOW)

    assert (after.status.phase, after.status.message) == (Phase.SUCCEEDED, promoted)
    assert condition_of(after.status, R.AVAILABLE) == ("False", R.PRIMARY_UNAVAILABLE)


SETTLED = [
    pytest.param(
        initialized(), make_obs(deployment(STABLE_IMAGE, replicas=0), STABLE_PRIMARY), id="init"
    ),
    pytest.param(
        rolling(0, 5, step_started_at=ago(5)),
        make_obs(CANARY_READY, STABLE_PRIMARY, route=5),
        id="holding",
    ),
    pytest.param(
        rolling(1, 25, step_started_at=ago(5), pause_conditions=[manual_pause()]),
        make_obs(CANARY_READY, STABLE_PRIMARY, route=25),
        id="paused",
    ),
    pytest.param(
        rolling(1, 25, abort=True),
        make_obs(CANARY_DOWN, STABLE_PRIMARY, route=0),
        id="aborted",
    ),
]


@pytest.mark.parametrize(("status", "obs"), SETTLED)
def test_settled_state_is_a_fixed_point(status: RolloutStatus, obs: Observations) -> None:
    """Once a decision is applied and written, deciding again changes nothing."""
    first = decide(SPEC, status, obs, NOW, GENERATION)
    second = decide(SPEC, first.status, obs, at(1), GENERATION)

    assert first.actions == ()
    assert (second.actions, second.events) == ((), ())
    assert second.status == first.status


# --- Multi-call simulation on a fake cluster --------------------------------------------------


def run_rollout(run: Run, image: str = CANARY_IMAGE) -> RolloutStatus:
    run.until(Phase.INITIALIZED)
    run.cluster.update_target(image)
    return run.until(Phase.SUCCEEDED)


def _collapse(values: Sequence[T]) -> list[T]:
    """Drop consecutive repeats: [0, 0, 5, 5, 0] -> [0, 5, 0]."""
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def test_simulated_rollout_moves_the_route_through_every_step_once() -> None:
    run = Run(FakeCluster.with_target(STABLE_IMAGE), SPEC)
    final = run_rollout(run)

    assert run.cluster.route_history == [5, 25, 50, 100, 0]
    assert run.cluster.noop_weight_writes == 0
    assert final.phase == Phase.SUCCEEDED
    assert final.stable == CANARY
    assert (final.canary, final.canary_weight, final.current_step_index) == (None, 0, None)
    assert run.cluster.primary is not None
    assert run.cluster.primary.revision == CANARY_REV
    assert run.cluster.target.replicas == 0
    assert run.reasons() == [
        R.INITIALIZING,
        R.INITIALIZED,
        R.ROLLOUT_STARTED,
        R.TRAFFIC_WEIGHT_UPDATED,
        R.TRAFFIC_WEIGHT_UPDATED,  # each with the step it completed
        R.TRAFFIC_WEIGHT_UPDATED,
        R.TRAFFIC_WEIGHT_UPDATED,
        R.STEP_COMPLETED,
        R.ROLLOUT_PROMOTING,
        R.TRAFFIC_WEIGHT_UPDATED,
        R.ROLLOUT_PROMOTED,
    ]
    completed = completions(run.events)
    assert completed == [
        f"step {i}/4 (canary {w}%) completed after 30s"
        for i, w in [(1, 5), (2, 25), (3, 50), (4, 100)]
    ]
    assert _collapse([s.phase for s in run.committed]) == [
        Phase.INITIALIZING,
        Phase.INITIALIZED,
        Phase.PROGRESSING,
        Phase.PROMOTING,
        Phase.SUCCEEDED,
    ]


def test_simulated_second_rollout_starts_from_the_promoted_revision() -> None:
    run = Run(FakeCluster.with_target(STABLE_IMAGE), SPEC)
    run_rollout(run, CANARY_IMAGE)
    run.cluster.update_target(OTHER_IMAGE)
    final = run.until(Phase.SUCCEEDED)

    assert run.cluster.route_history == [5, 25, 50, 100, 0, 5, 25, 50, 100, 0]
    assert final.stable == OTHER
    started = [e.message for e in run.events if e.reason == R.ROLLOUT_STARTED]
    assert len(started) == 2
    assert f"against stable {CANARY_IMAGE}" in started[1]


def test_simulated_canary_that_never_gets_ready_is_aborted_at_the_deadline() -> None:
    cluster = FakeCluster.with_target(STABLE_IMAGE)
    run = Run(cluster, make_spec(progress_deadline="1m"))
    run.until(Phase.INITIALIZED)
    cluster.stuck_target = True
    cluster.update_target(CANARY_IMAGE)
    started = run.now
    final = run.until(Phase.DEGRADED)

    assert cluster.route_history == []
    assert cluster.target.replicas == 0
    assert final.abort is True
    # Blocked from the first call (10s ticks); aborted on the first call more than 60s later.
    assert run.now - run.tick - started == timedelta(seconds=70)
    assert run.reasons()[-2:] == [R.ROLLOUT_STARTED, R.PROGRESS_DEADLINE_EXCEEDED]
    again = run.step()
    assert (again.actions, again.events) == ((), ())


@st.composite
def step_lists(draw: st.DrawFn) -> list[Step]:
    """Strictly increasing weights ending at 100, each held 1-90s or not held at all."""
    weights_ = [*sorted(draw(st.sets(st.integers(1, 99), max_size=6))), 100]
    holds = draw(
        st.lists(
            st.one_of(st.none(), st.integers(1, 90)),
            min_size=len(weights_),
            max_size=len(weights_),
        )
    )
    return [
        bare(w) if h is None else held(w, f"{h}s") for w, h in zip(weights_, holds, strict=True)
    ]


PROPERTY = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def check_route_sequence(steps: list[Step], crashes: list[bool], tick: int) -> None:
    """Run a whole rollout; call i loses its status write when crashes[i] is true."""

    def crash(call: int, decision: Decision) -> bool:
        return call < len(crashes) and crashes[call]

    run = Run(
        FakeCluster.with_target(STABLE_IMAGE),
        make_spec(steps),
        tick=timedelta(seconds=tick),
        crash=crash,
    )
    final = run_rollout(run)
    expected = [s.weight for s in steps] + [0]

    assert run.cluster.route_history == expected
    assert run.cluster.noop_weight_writes == 0
    assert (run.cluster.route, run.cluster.target.replicas) == (0, 0)
    assert final.stable == CANARY
    assert _collapse([s.canary_weight for s in run.committed]) == [0, *expected]
    # Events of a lost write are lost with it; none may be posted twice.
    assert len(completions(run.events)) <= len(steps)
    assert run.reasons().count(R.ROLLOUT_STARTED) == 1
    assert run.reasons().count(R.ROLLOUT_PROMOTED) == 1


@PROPERTY
@given(steps=step_lists(), tick=st.integers(1, 45))
def test_route_visits_each_step_weight_once_then_zero(steps: list[Step], tick: int) -> None:
    check_route_sequence(steps, [], tick)


@PROPERTY
@example(steps=[bare(1), bare(100)], crashes=[False] * 4 + [True], tick=1)
@example(steps=[bare(100)], crashes=[False] * 4 + [True, True], tick=1)
@given(
    steps=step_lists(),
    crashes=st.lists(st.booleans(), max_size=120),
    tick=st.integers(1, 45),
)
def test_lost_status_writes_neither_skip_nor_repeat_a_weight(
    steps: list[Step], crashes: list[bool], tick: int
) -> None:
    check_route_sequence(steps, crashes, tick)


# --- Bugs found while writing these tests ----------------------------------------------------


def crash_on(*reasons_: str) -> Callable[[int, Decision], bool]:
    """Lose the status write of the first decision that emits each of `reasons_`."""
    pending = list(reasons_)

    def crash(call: int, decision: Decision) -> bool:
        hit = [r for r in pending if r in reasons(decision)]
        for r in hit:
            pending.remove(r)
        return bool(hit)

    return crash


def test_lost_write_after_a_step_change_does_not_move_the_route_back() -> None:
    lost: list[int] = []

    def crash(call: int, decision: Decision) -> bool:
        """Lose the write of each pass that completed a step and set the next weight."""
        if completes_step(decision) and weights(decision.actions):
            lost.append(call)
            return True
        return False

    run = Run(FakeCluster.with_target(STABLE_IMAGE), SPEC, crash=crash)
    run_rollout(run)

    assert len(lost) == 3
    assert run.cluster.route_history == [5, 25, 50, 100, 0]
    assert run.cluster.noop_weight_writes == 0


def test_a_pause_racing_a_step_change_holds_the_next_step_without_moving_the_route_back() -> None:
    # The pass that set 25% lost its write to a user's pause; the redo sees the pause.
    paused = rolling(0, 5, step_started_at=ago(30), pause_conditions=[manual_pause()])
    decision = decide(SPEC, paused, make_obs(CANARY_READY, STABLE_PRIMARY, route=25), NOW)

    assert decision.actions == ()
    assert (decision.status.current_step_index, decision.status.canary_weight) == (1, 25)
    assert decision.status.phase == Phase.PAUSED
    assert [p.reason for p in decision.status.pause_conditions] == [R.MANUAL_PAUSE]


def test_lost_writes_around_promotion_leave_the_route_at_zero() -> None:
    run = Run(
        FakeCluster.with_target(STABLE_IMAGE),
        SPEC,
        crash=crash_on(R.ROLLOUT_PROMOTING, R.ROLLOUT_PROMOTED),
    )
    final = run_rollout(run)

    assert (run.cluster.route, run.cluster.target.replicas) == (0, 0)
    assert run.cluster.route_history == [5, 25, 50, 100, 0]
    assert final.stable == CANARY


def test_promotion_found_already_applied_ends_with_route_and_canary_at_zero() -> None:
    # The primary already runs the canary (an earlier pass promoted it), the status is stale.
    obs = make_obs(CANARY_READY, primary(CANARY_IMAGE), route=0)
    decision = decide(SPEC, rolling(3, 100, step_started_at=ago(40)), obs, NOW)

    assert decision.status.phase == Phase.SUCCEEDED
    assert after_actions(obs, decision.actions) == (0, 0)


def test_deadline_abort_does_not_scale_the_canary_up() -> None:
    obs = make_obs(deployment(CANARY_IMAGE, replicas=0, ready=False), STABLE_PRIMARY)
    decision = decide(SPEC, rolling(0, 0, blocked_since=ago(601)), obs, NOW)

    assert decision.status.phase == Phase.DEGRADED
    assert reasons(decision) == [R.PROGRESS_DEADLINE_EXCEEDED]
    assert after_actions(obs, decision.actions) == (0, 0)


def test_persistent_routing_error_keeps_its_transition_time() -> None:
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=None, error=ROUTE_ERROR)
    first = decide(SPEC, rolling(1, 25, step_started_at=ago(5)), obs, NOW)
    second = decide(SPEC, first.status, obs, at(60))

    before = find(list(first.status.conditions), R.INVALID_SPEC)
    after = find(list(second.status.conditions), R.INVALID_SPEC)
    assert before is not None
    assert after is not None
    assert before.last_transition_time == stamp()
    assert (after.status, after.last_transition_time) == ("True", stamp())


def test_primary_lost_mid_rollout_is_not_rebuilt_from_the_canary_template() -> None:
    """Found while writing these tests (the primary came back with the canary's template
    labelled as the stable revision); fixed in decide() since."""
    decision = decide(
        SPEC,
        rolling(1, 25, step_started_at=ago(5)),
        make_obs(CANARY_READY, None, route=25),
        NOW,
    )

    assert decision.actions == ()
    assert mismatched_primaries(decision.actions) == []
    assert (decision.status.phase, decision.status.stable) == (Phase.DEGRADED, STABLE)
    assert condition_of(decision.status, R.AVAILABLE) == ("False", R.PRIMARY_UNAVAILABLE)


def test_primary_lost_while_stable_is_recreated() -> None:
    decision = decide(
        SPEC, initialized(), make_obs(deployment(STABLE_IMAGE, replicas=0), None), NOW
    )

    ensured = [a.revision for a in decision.actions if isinstance(a, EnsurePrimary)]
    assert ensured == [STABLE_REV]
    assert mismatched_primaries(decision.actions) == []
    assert (decision.status.phase, decision.events) == (Phase.INITIALIZING, ())


def test_a_stored_spec_the_models_reject_is_reported_in_status_and_once_as_an_event() -> None:
    status = rolling(1, 25)
    first = unreadable_spec(status, NOW, 3, "spec.analysis.alpha: must be > 0 (value '0')")
    assert first.actions == ()
    assert first.status.canary_weight == 25
    assert "spec cannot be read: spec.analysis.alpha" in (first.status.message or "")
    invalid = next(c for c in first.status.conditions if c.type == R.INVALID_SPEC)
    assert (invalid.status, invalid.reason) == ("True", R.INVALID_SPEC)
    assert [e.reason for e in first.events if e.warning] == [R.INVALID_SPEC]
    again = unreadable_spec(first.status, NOW, 3, "spec.analysis.alpha: must be > 0 (value '0')")
    assert R.INVALID_SPEC not in [e.reason for e in again.events]


def test_a_routing_error_posts_one_warning_until_it_changes() -> None:
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=None, error=ROUTE_ERROR)
    first = decide(SPEC, rolling(1, 25), obs, NOW)
    again = decide(SPEC, first.status, obs, at(5))
    other = make_obs(CANARY_READY, STABLE_PRIMARY, route=None, error="VirtualService x not found")

    assert warnings(first) == [R.TRAFFIC_ROUTING_ERROR]
    assert again.events == ()
    assert warnings(decide(SPEC, again.status, other, at(10))) == [R.TRAFFIC_ROUTING_ERROR]


# --- A replica split (trafficRouting.replicas): the router sizes both arms ------------------


def test_a_replica_split_leaves_the_canary_size_to_the_router() -> None:
    obs = make_obs(CANARY_DOWN, STABLE_PRIMARY, route=0, scales_pods=True)
    decision = decide(SPEC, rolling(0, 0), obs, NOW)

    assert not [a for a in decision.actions if isinstance(a, ScaleCanary)]
    assert weights(decision.actions) == [SPEC.steps[0].weight]


def test_a_replica_split_says_how_far_the_pods_are_from_the_step() -> None:
    note = "1 canary of 10 pods is 10%, 5 points above the step's 5%"
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=5, scales_pods=True, note=note)
    decision = decide(SPEC, rolling(0, 5, step_started_at=ago(1)), obs, NOW)

    assert decision.status.message.endswith(f"; {note}")


def test_a_replica_split_promotes_and_aborts_without_scaling_the_canary() -> None:
    obs = make_obs(CANARY_READY, STABLE_PRIMARY, route=50, scales_pods=True)
    aborted = decide(SPEC, rolling(1, 50, abort=True), obs, NOW)

    assert weights(aborted.actions) == [0]
    assert not [a for a in aborted.actions if isinstance(a, ScaleCanary)]
