"""Which notifications a decision makes, and for whom: pure, from the decision's events.

A notification goes out only for a decision whose status was written (as its Events are), so a
pass redone after a lost status write does not notify twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from imagerollout.api.notifications import Subscription, Trigger
from imagerollout.api.v1alpha1 import RolloutSpec, RolloutStatus
from imagerollout.core import reasons as R
from imagerollout.core.rollout.actions import Decision, Event

TRIGGERS: dict[str, Trigger] = {
    R.ROLLOUT_STARTED: Trigger.STARTED,
    R.ROLLOUT_RESTARTED: Trigger.STARTED,
    R.ROLLOUT_RETRIED: Trigger.STARTED,
    R.STEP_COMPLETED: Trigger.STEP_COMPLETED,
    R.ROLLOUT_PAUSED: Trigger.PAUSED,
    R.ROLLOUT_PROMOTED: Trigger.PROMOTED,
    R.ROLLOUT_ABORTED: Trigger.ROLLED_BACK,
    R.ANALYSIS_FAILED: Trigger.ROLLED_BACK,
    R.METRICS_FAILED: Trigger.ROLLED_BACK,
    R.PROGRESS_DEADLINE_EXCEEDED: Trigger.ROLLED_BACK,
    R.ROLLBACK_WEBHOOK: Trigger.ROLLED_BACK,
    R.ANALYSIS_INCONCLUSIVE: Trigger.INCONCLUSIVE,
    R.METRICS_INCONCLUSIVE: Trigger.INCONCLUSIVE,
}
# The gate verdicts a notification lists: the ones that explain it.
EXPLAINING = {Trigger.ROLLED_BACK: "Fail", Trigger.INCONCLUSIVE: "Inconclusive"}


@dataclass(frozen=True)
class GateNumbers:
    """One gate that explains a rollback or an Inconclusive, with its numbers as in status."""

    gate: str
    kind: str  # "quality" (paired probes) or "metrics" (production traffic)
    verdict: str
    numbers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Notification:
    trigger: Trigger
    namespace: str
    name: str
    reason: str
    message: str
    phase: str
    step: int | None  # 1-based
    steps: int
    canary_weight: int
    stable_model: str | None
    canary_model: str | None
    gates: tuple[GateNumbers, ...]
    time: str

    @property
    def title(self) -> str:
        return f"{self.namespace}/{self.name}: {TITLES[self.trigger]}"


TITLES = {
    Trigger.STARTED: "rollout started",
    Trigger.STEP_COMPLETED: "step completed",
    Trigger.PAUSED: "rollout paused",
    Trigger.PROMOTED: "canary promoted",
    Trigger.ROLLED_BACK: "rolled back",
    Trigger.INCONCLUSIVE: "analysis inconclusive",
}


def notifications(
    namespace: str,
    name: str,
    spec: RolloutSpec,
    before: RolloutStatus,
    decision: Decision,
    stamp: str,
) -> list[Notification]:
    """One notification per trigger the decision's events fire (the first event of each)."""
    seen: dict[Trigger, tuple[str, Event]] = {}
    for event in decision.events:
        for reason in (event.reason, *event.also):  # a step change is one event for both
            trigger = TRIGGERS.get(reason)
            if trigger is not None and trigger not in seen:
                seen[trigger] = (reason, event)
    status = decision.status
    # A promotion or rollback clears the canary and step; the notification keeps them.
    canary = status.canary or before.canary
    index = status.current_step_index
    if index is None:
        index = before.current_step_index
    return [
        Notification(
            trigger=trigger,
            namespace=namespace,
            name=name,
            reason=reason,
            message=event.message,
            phase=status.phase.value if status.phase else "",
            step=None if index is None else min(index + 1, len(spec.steps)),
            steps=len(spec.steps),
            canary_weight=status.canary_weight,
            stable_model=status.stable.model if status.stable else None,
            canary_model=canary.model if canary else None,
            gates=explaining_gates(status, EXPLAINING.get(trigger)),
            time=stamp,
        )
        for trigger, (reason, event) in seen.items()
    ]


def explaining_gates(status: RolloutStatus, verdict: str | None) -> tuple[GateNumbers, ...]:
    if verdict is None:
        return ()
    found: list[GateNumbers] = []
    for gate in status.analysis.gates if status.analysis else []:
        if gate.verdict == verdict:
            numbers = (
                ("pairs", str(gate.samples)),
                ("baseline", gate.baseline),
                ("canary", gate.canary),
                ("effect", gate.effect),
                ("bounds", f"[{gate.lower}, {gate.upper}]"),
            )
            found.append(GateNumbers(gate.gate, "quality", gate.verdict, numbers))
    for metric in status.metrics.gates if status.metrics else []:
        if metric.verdict == verdict:
            values = (
                ("canary", metric.canary),
                ("baseline", metric.baseline),
                ("bound", metric.bound),
                ("why", metric.reason or None),
            )
            shown = tuple((k, v) for k, v in values if v is not None)
            found.append(GateNumbers(metric.gate, "metrics", metric.verdict, shown))
    return tuple(found)


def deliveries(
    subscriptions: list[Subscription], notes: list[Notification]
) -> list[tuple[str, Notification]]:
    """(provider, notification) for every subscription that asked for the trigger."""
    return [
        (sub.provider, note)
        for note in notes
        for sub in subscriptions
        if note.trigger in sub.triggers
    ]
