"""The rollout state machine: decide(spec, status, observations, now) -> Decision.

Level-based: every call compares what should be with what was observed and asks only
for the difference, so a restart at any point neither skips nor repeats a weight change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from imagerollout.api.v1alpha1 import Phase, Revision, RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.capabilities.plan import (
    drop_provisional,
    pin_failures,
    prepare_fallbacks,
    route_capabilities,
    settle_pins,
)
from imagerollout.core.durations import parse_duration, seconds_between
from imagerollout.core.judge import Outcome
from imagerollout.core.metrics.gating import MetricsVerdict, judge_metrics
from imagerollout.core.observations import DeploymentView, Observations
from imagerollout.core.quality.gating import (
    GateVerdict,
    full_traffic_hold,
    handle_inconclusive,
    judge_pass,
    mark_step_start,
    stage0_message,
    step_allows_completion,
)
from imagerollout.core.rollout.actions import Decision, EnsurePrimary, EnsureServices, ScaleCanary
from imagerollout.core.rollout.conditions import find
from imagerollout.core.rollout.draft import Draft
from imagerollout.core.rollout.revision import primary_selector
from imagerollout.core.rollout.sampler_lint import lint_canary
from imagerollout.core.rollout.spec_check import spec_problem
from imagerollout.core.rollout.steps import advance_if_done, route_ahead, set_weight
from imagerollout.core.rollout.wakeup import next_wakeup
from imagerollout.core.rollout.webhooks import Hold, confirm_promotion, gate_hooks

ROLLING = (Phase.PROGRESSING, Phase.PAUSED, Phase.PROMOTING)


def decide(
    spec: RolloutSpec,
    status: RolloutStatus,
    obs: Observations,
    now: datetime,
    generation: int | None = None,
) -> Decision:
    d = Draft(status, now, generation)
    _decide(spec, status, obs, d)
    routed = status.stable is not None and obs.primary is not None and obs.route.error is None
    if routed and (spec.capabilities or status.pins or obs.capability_routes or obs.fallbacks):
        route_capabilities(spec, d, obs)
    decision = d.done()
    return replace(decision, wake_at=next_wakeup(spec, decision.status, now))


def _decide(spec: RolloutSpec, status: RolloutStatus, obs: Observations, d: Draft) -> Decision:
    target = obs.target
    if target is None:
        message = f"Deployment {spec.target_ref.name} not found"
        if obs.route.error is None:  # nothing serves the canary arm: keep traffic off it
            set_weight(d, obs, 0, "target missing")
        d.condition(R.INVALID_SPEC, True, R.TARGET_NOT_FOUND, message)
        return d.phase(Phase.DEGRADED, message)
    problem, reason = spec_problem(spec), R.INVALID_SPEC
    if problem is None and status.stable is not None and target.revision != status.stable.revision:
        problem, reason = lint_canary(spec, d, obs), R.SAMPLER_POLICY_BLOCKED
    if problem is None:
        d.condition(R.INVALID_SPEC, False, R.SPEC_VALID)
    elif obs.route.error is None:  # else the routing error takes the condition, below
        _report_invalid_spec(d, problem, reason)
    if not obs.services_ready:
        d.act(EnsureServices(primary_selector(target.selector), dict(target.selector)))
    if (
        status.stable is not None
        and obs.primary is None
        and target.revision != status.stable.revision
    ):
        # Re-creating the primary from the target would promote an untested canary.
        message = f"primary Deployment missing; stable revision {status.stable.revision} is lost"
        d.condition(R.AVAILABLE, False, R.PRIMARY_UNAVAILABLE, message)
        return d.phase(Phase.DEGRADED, message)
    if status.stable is None or obs.primary is None:
        return _initialize(d, target, obs.primary)
    if obs.route.error is not None:
        return _routing_error(spec, d, obs.route.error)
    if target.revision == status.stable.revision:
        return _steady(d, target, obs)
    if problem is not None and _would_start(status, target):
        return _held_invalid(d, problem)
    if status.canary is None or status.canary.revision != target.revision:
        _start(spec, d, target)
        if d.before.phase in ROLLING:  # the old canary's traffic must not reach the new one
            set_weight(d, obs, 0, "restarted")
    elif status.abort:
        return _abort(d, target, obs, R.ROLLOUT_ABORTED, "aborted on request")
    elif status.phase == Phase.DEGRADED:
        _start(spec, d, target, retry=True)
    promoting = obs.primary.revision == target.revision  # only _promote does that
    if promoting or d.status.promote_full or d.status.current_step_index == len(spec.steps):
        return _promote(spec, d, target, obs.primary, obs)
    if problem is not None:
        return _held_invalid(d, problem)
    if obs.analysis is not None and obs.analysis.error is not None:
        return _analysis_error(d, obs.analysis.error)
    hold = gate_hooks(spec, d, obs, _canary_ready(target, obs.primary, obs))
    if hold is not None:
        return _webhook_hold(spec, d, target, obs, hold)
    verdict = judge_pass(spec, d, obs)
    if verdict is not None and verdict.pins:
        pin_failures(d, verdict.pins)
    if verdict is not None and verdict.outcome == Outcome.ROLLBACK:
        return _abort(d, target, obs, R.ANALYSIS_FAILED, verdict.why)
    inconclusive = verdict is not None and verdict.outcome == Outcome.INCONCLUSIVE
    if inconclusive and verdict and handle_inconclusive(spec, d, verdict):
        return _abort(d, target, obs, R.ANALYSIS_INCONCLUSIVE, verdict.why)
    metrics = judge_metrics(spec, d, obs.metrics)
    if metrics.failed is not None:
        return _abort(d, target, obs, R.METRICS_FAILED, metrics.failed)
    if metrics.abort is not None:
        return _abort(d, target, obs, R.METRICS_INCONCLUSIVE, metrics.abort)
    return _progress(spec, d, target, obs.primary, obs, verdict, metrics)


def _initialize(d: Draft, target: DeploymentView, primary: DeploymentView | None) -> Decision:
    stable = d.status.stable or Revision(revision=target.revision, model=target.model)
    if d.before.stable is None:
        d.set(stable=stable)
        d.event(R.INITIALIZING, f"creating primary at {stable.revision} ({stable.model})")
    if primary is None:
        d.act(EnsurePrimary(target.template, stable.revision, max(target.replicas, 1)))
    d.condition(R.AVAILABLE, False, R.INITIALIZING, "waiting for the primary Deployment")
    return d.phase(Phase.INITIALIZING, "creating the primary Deployment and Services")


def _steady(d: Draft, target: DeploymentView, obs: Observations) -> Decision:
    """No rollout: the target matches the stable revision."""
    assert obs.primary is not None
    if not obs.primary.ready:
        d.condition(R.AVAILABLE, False, R.PRIMARY_UNAVAILABLE, "primary pods are not ready")
        if d.before.phase == Phase.SUCCEEDED and d.before.message:
            # The promotion's message (what stays pinned) outlives the primary growing back
            # (the replica split scales it up after the promotion); Available tells the rest.
            return d.phase(Phase.SUCCEEDED, d.before.message)
        phase = d.before.phase if d.before.phase == Phase.INITIALIZED else None
        return d.phase(phase or Phase.INITIALIZING, "waiting for primary pods")
    set_weight(d, obs, 0, "")
    _scale_canary(d, obs, target, 0)
    d.condition(R.AVAILABLE, True, R.PRIMARY_AVAILABLE, "primary serves all traffic")
    d.set(canary=None, current_step_index=None, step_started_at=None, blocked_since=None)
    d.set(sampler_findings=[])
    d.set(abort=False, promote_full=False, promote_step=False, pause_conditions=[])
    before = d.before.phase
    if before in ROLLING or before == Phase.DEGRADED:
        d.event(R.ROLLOUT_CANCELLED, "target is back at the stable revision; primary 100%")
        d.condition(R.PROGRESSING, False, R.ROLLOUT_CANCELLED, "target reverted to stable")
    elif before in (None, Phase.INITIALIZING):
        d.event(R.INITIALIZED, f"primary serves {target.model} at 100%")
    if before == Phase.SUCCEEDED:
        return d.phase(Phase.SUCCEEDED, d.before.message)
    return d.phase(Phase.INITIALIZED, f"stable {target.model}; no rollout in progress")


def _start(spec: RolloutSpec, d: Draft, target: DeploymentView, retry: bool = False) -> None:
    canary = Revision(revision=target.revision, model=target.model)
    restarted = d.before.phase in ROLLING and not retry
    d.set(
        canary=canary,
        current_step_index=0,
        step_started_at=None,
        blocked_since=None,
        rollout_started_at=d.stamp,
        controller_pause=False,
        abort=False,
        promote_full=False,
        promote_step=False,
        pause_conditions=[],
        phase=Phase.PROGRESSING,
        analysis=None,
        metrics=None,
        webhooks=None,
    )
    drop_provisional(d)
    stable = d.before.stable
    assert stable is not None
    reason = R.ROLLOUT_RETRIED if retry else R.ROLLOUT_RESTARTED if restarted else R.ROLLOUT_STARTED
    d.event(
        reason,
        f"canary {canary.model} (revision {canary.revision}) against stable {stable.model} "
        f"(revision {stable.revision}); {len(spec.steps)} steps",
    )
    d.condition(R.PROGRESSING, True, reason, f"rolling out revision {canary.revision}")
    d.condition(R.PROMOTED, False, reason, "canary not promoted yet")


def _abort(d: Draft, target: DeploymentView, obs: Observations, reason: str, why: str) -> Decision:
    set_weight(d, obs, 0, "")
    _scale_canary(d, obs, target, 0)
    drop_provisional(d)
    if d.before.phase != Phase.DEGRADED:
        step = d.status.current_step_index
        d.event(reason, f"{why} at step {(step or 0) + 1}; canary 0%, primary 100%", warning=True)
        d.condition(R.PROGRESSING, False, reason, why)
    d.set(abort=True, blocked_since=None, promote_full=False, promote_step=False)
    d.set(pause_conditions=[], controller_pause=False)
    if d.before.phase == Phase.DEGRADED and d.before.message:
        return d.phase(Phase.DEGRADED, d.before.message)  # keep the cause, not "aborted on request"
    return d.phase(Phase.DEGRADED, f"rolled back: {why}; primary 100%")


def _blocked(
    spec: RolloutSpec, d: Draft, target: DeploymentView, obs: Observations, why: str
) -> Decision | None:
    """Record a wait on pods or routing; abort once it outlasts spec.progressDeadline."""
    since = d.status.blocked_since or d.stamp
    d.set(blocked_since=since)
    limit = parse_duration(spec.progress_deadline).total_seconds()
    if seconds_between(since, d.now) > limit:
        why = f"{why} for more than {spec.progress_deadline}"
        return _abort(d, target, obs, R.PROGRESS_DEADLINE_EXCEEDED, why)
    return None


def _routing_error(spec: RolloutSpec, d: Draft, error: str) -> Decision:
    before = find(d.before.conditions, R.INVALID_SPEC)
    if before is None or before.reason != R.TRAFFIC_ROUTING_ERROR or before.message != error:
        d.event(R.TRAFFIC_ROUTING_ERROR, error, warning=True)
    d.condition(R.INVALID_SPEC, True, R.TRAFFIC_ROUTING_ERROR, error)
    return d.phase(d.before.phase or Phase.INITIALIZING, f"traffic routing: {error}")


def unreadable_spec(
    status: RolloutStatus, now: datetime, generation: int | None, problem: str
) -> Decision:
    """A stored spec the models reject (admission was looser when it was written).

    Nothing moves without a spec: the route keeps its weight, and status and a Warning event
    say what to fix.
    """
    d = Draft(status, now, generation)
    _report_invalid_spec(d, f"spec cannot be read: {problem}")
    return d.phase(status.phase or Phase.DEGRADED, f"spec cannot be read: {problem}")


def _report_invalid_spec(d: Draft, problem: str, reason: str = R.INVALID_SPEC) -> None:
    """InvalidSpec with the problem; a Warning event when it is new."""
    before = find(d.before.conditions, R.INVALID_SPEC)
    if before is None or before.status != "True" or before.message != problem:
        d.event(reason, problem, warning=True)
    d.condition(R.INVALID_SPEC, True, reason, problem)


def _would_start(status: RolloutStatus, target: DeploymentView) -> bool:
    """This pass would start (or retry) a rollout of the target."""
    if status.canary is None or status.canary.revision != target.revision:
        return True
    return status.phase == Phase.DEGRADED and not status.abort


def _held_invalid(d: Draft, problem: str) -> Decision:
    """Nothing moves until the spec is fixed: no rollout starts, the weight stays where it is
    (an abort or a promotion in progress still goes ahead)."""
    phase = d.before.phase if d.before.phase in ROLLING else Phase.DEGRADED
    return d.phase(phase, f"invalid spec, traffic held: {problem}")


def _analysis_error(d: Draft, error: str) -> Decision:
    d.condition(R.INVALID_SPEC, True, R.ANALYSIS_ERROR, error)
    return d.phase(d.before.phase or Phase.PROGRESSING, f"analysis: {error}")


def _progress(
    spec: RolloutSpec,
    d: Draft,
    target: DeploymentView,
    primary: DeploymentView,
    obs: Observations,
    verdict: GateVerdict | None = None,
    metrics: MetricsVerdict | None = None,
) -> Decision:
    index = d.status.current_step_index or 0
    metrics = metrics or MetricsVerdict()
    weight = spec.steps[index].weight
    # With a replica split the router sizes both arms; otherwise the canary mirrors the primary.
    short = not obs.route.scales_pods and target.replicas != primary.replicas
    if short:
        d.act(ScaleCanary(primary.replicas))
    if not _canary_ready(target, primary, obs):
        aborted = _blocked(spec, d, target, obs, "canary pods not ready")
        if aborted:
            return aborted
        d.condition(R.PROGRESSING, True, R.WAITING_FOR_CANARY, "waiting for canary pods")
        _record_pause(d)
        return d.phase(_running_phase(d), f"step {index + 1}/{len(spec.steps)}: waiting for canary")
    d.set(blocked_since=None)
    stage0 = stage0_message(spec, d)
    if stage0 is not None:
        d.condition(R.PROGRESSING, True, R.STAGE0, stage0)
        return d.phase(_running_phase(d), stage0)
    completed = confirming = None
    if d.status.canary_weight == weight:  # this step's weight is set: is the step done?
        ahead = route_ahead(spec, d, obs)
        gates_allow = step_allows_completion(spec, d, verdict) and metrics.allows_completion
        confirming = confirm_promotion(spec, d, obs) if gates_allow else None
        allowed = gates_allow and confirming is None
        completed = advance_if_done(spec, d, allowed, found_done=ahead)
    index = d.status.current_step_index or 0
    # The next step's weight is set in the pass that completed the step before it.
    context = f"step {index + 1}/{len(spec.steps)}"
    if index < len(spec.steps) and set_weight(d, obs, spec.steps[index].weight, context, completed):
        d.set(step_started_at=d.precise_stamp)
        mark_step_start(d)
    elif completed is not None:
        d.event(R.STEP_COMPLETED, completed)
    status = d.status
    if status.current_step_index == len(spec.steps):
        return _promote(spec, d, target, primary, obs)
    primary_share = 100 - status.canary_weight
    message = (
        f"step {(status.current_step_index or 0) + 1}/{len(spec.steps)}: "
        f"canary {status.canary_weight}%, primary {primary_share}%"
    )
    if verdict is not None:
        message = f"{message}; {verdict.why}"
        hold = full_traffic_hold(spec, d, verdict)
        if hold is not None:
            message = f"{message}; {hold}"
    if metrics.summary:
        message = f"{message}; {metrics.summary}"
    if confirming is not None:
        message = f"{message}; {confirming}"
    if obs.route.note:
        message = f"{message}; {obs.route.note}"
    _record_pause(d)
    return d.phase(_running_phase(d), message)


def _canary_ready(
    target: DeploymentView, primary: DeploymentView | None, obs: Observations
) -> bool:
    """The canary's pods are up: as many as the primary's, unless the router sizes both arms
    (a replica split)."""
    if primary is None or not target.ready:
        return False
    return obs.route.scales_pods or target.replicas == primary.replicas


def _webhook_hold(
    spec: RolloutSpec, d: Draft, target: DeploymentView, obs: Observations, hold: Hold
) -> Decision:
    """A gate webhook stops the rollout this pass (core/rollout/webhooks.py says why)."""
    if hold.abort:
        return _abort(d, target, obs, hold.reason, hold.why)
    if hold.refused:  # like an invalid spec: nothing moves until the allowlist or URL is fixed
        before = find(d.before.conditions, R.INVALID_SPEC)
        if before is None or before.message != hold.why:
            d.event(hold.reason, hold.why, warning=True)
        d.condition(R.INVALID_SPEC, True, hold.reason, hold.why)
        return d.phase(d.before.phase or Phase.PROGRESSING, hold.why)
    if hold.deadline:
        aborted = _blocked(spec, d, target, obs, hold.why)
        if aborted:
            return aborted
    _record_pause(d)
    return d.phase(_running_phase(d), hold.why)


def _scale_canary(d: Draft, obs: Observations, target: DeploymentView, replicas: int) -> None:
    """Scale the target, unless the router sizes both arms itself (a replica split)."""
    if not obs.route.scales_pods and d.canary_replicas(target.replicas) != replicas:
        d.act(ScaleCanary(replicas))


def _running_phase(d: Draft) -> Phase:
    return Phase.PAUSED if d.status.pause_conditions else Phase.PROGRESSING


def _record_pause(d: Draft) -> None:
    pauses = d.status.pause_conditions
    if pauses:
        reason = pauses[0].reason
        d.condition(R.PAUSED, True, reason, f"paused: {reason}")
        if d.before.phase != Phase.PAUSED:
            d.event(R.ROLLOUT_PAUSED, f"paused ({reason}) at canary {d.status.canary_weight}%")
    else:
        d.condition(R.PAUSED, False, R.ROLLOUT_RESUMED)
        if d.before.phase == Phase.PAUSED:
            d.event(R.ROLLOUT_RESUMED, f"resumed at canary {d.status.canary_weight}%")


def _promote(
    spec: RolloutSpec,
    d: Draft,
    target: DeploymentView,
    primary: DeploymentView,
    obs: Observations,
) -> Decision:
    canary = d.status.canary
    assert canary is not None
    if d.before.phase != Phase.PROMOTING:
        how = "on request, skipping remaining steps" if d.status.promote_full else "all steps done"
        d.event(R.ROLLOUT_PROMOTING, f"promoting {canary.model} ({how}); copying it to primary")
        d.condition(R.PROGRESSING, True, R.ROLLOUT_PROMOTING, "copying canary to primary")
    d.set(current_step_index=len(spec.steps), pause_conditions=[], controller_pause=False)
    awaited = prepare_fallbacks(d, obs, primary) if primary.revision != canary.revision else None
    if awaited is not None:  # pinned jobs move to their fallback before the primary changes
        aborted = _blocked(spec, d, target, obs, f"{awaited} before promotion")
        return aborted or d.phase(Phase.PROMOTING, awaited)
    if primary.revision != canary.revision:
        d.act(EnsurePrimary(target.template, canary.revision, primary.replicas))
    if primary.revision != canary.revision or not primary.ready:
        aborted = _blocked(spec, d, target, obs, "primary pods not ready after promotion")
        return aborted or d.phase(Phase.PROMOTING, "waiting for primary to run the canary")
    set_weight(d, obs, 0, "")
    _scale_canary(d, obs, target, 0)
    exception = settle_pins(d, d.status.analysis)
    d.event(
        R.ROLLOUT_PROMOTED,
        f"{canary.model} promoted{exception}; primary 100%, canary scaled to 0",
        warning=bool(exception),
    )
    d.condition(R.PROGRESSING, False, R.ROLLOUT_PROMOTED, f"revision {canary.revision} promoted")
    d.condition(R.PROMOTED, True, R.ROLLOUT_PROMOTED, f"{canary.model} is stable{exception}")
    d.set(stable=canary, canary=None, current_step_index=None, step_started_at=None)
    d.set(blocked_since=None, promote_full=False, promote_step=False)
    return d.phase(
        Phase.SUCCEEDED, f"promoted{exception}" if exception else f"promoted {canary.model}"
    )
