"""The operator's own metrics for the dashboards on-call watches (prometheus_client).

Names follow Prometheus conventions: one `imagerollout_` prefix, base units, `_info` for
labels-as-data, `_total` for counters.
"""

from __future__ import annotations

import contextlib

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from imagerollout.api.v1alpha1 import RolloutStatus

_ROLLOUT = ("namespace", "name")


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.weight = Gauge(
            "imagerollout_canary_weight_percent",
            "Percent of traffic on the canary.",
            _ROLLOUT,
            registry=registry,
        )
        self.info = Gauge(
            "imagerollout_rollout_info",
            "Phase and models of each rollout (always 1).",
            (*_ROLLOUT, "phase", "stable_model", "canary_model"),
            registry=registry,
        )
        self.evaluations = Counter(
            "imagerollout_gate_evaluations_total",
            "Gate evaluations by verdict.",
            (*_ROLLOUT, "gate", "verdict"),
            registry=registry,
        )
        self.gate_value = Gauge(
            "imagerollout_gate_value",
            "Latest estimate of each gate per arm (baseline, canary).",
            (*_ROLLOUT, "gate", "arm"),
            registry=registry,
        )
        self.gate_bound = Gauge(
            "imagerollout_gate_effect_bound",
            "Anytime-valid bounds (lower, upper) on canary minus baseline.",
            (*_ROLLOUT, "gate", "bound"),
            registry=registry,
        )
        self.pairs = Gauge(
            "imagerollout_analysis_pairs",
            "Pairs (baseline and canary image) judged in the current rollout.",
            _ROLLOUT,
            registry=registry,
        )
        self.reconcile_seconds = Histogram(
            "imagerollout_reconcile_duration_seconds",
            "One reconcile pass: reads, decision, actions, status write.",
            registry=registry,
        )
        self.queue_wait_seconds = Histogram(
            "imagerollout_workqueue_wait_seconds",
            "From a rollout being due (a change, a deadline) to a worker taking it.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.decision_seconds = Histogram(
            "imagerollout_decision_duration_seconds",
            "The pure decision alone.",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
        self.metric_gate_value = Gauge(
            "imagerollout_metric_gate_value",
            "Latest window of each production-traffic gate: canary, baseline and bound.",
            (*_ROLLOUT, "gate", "arm"),
            registry=registry,
        )
        self.metric_windows = Counter(
            "imagerollout_metric_gate_windows_total",
            "Production-traffic gate windows judged, by verdict.",
            (*_ROLLOUT, "gate", "verdict"),
            registry=registry,
        )
        self.notifications = Counter(
            "imagerollout_notifications_total",
            "Notifications by provider, trigger and result: sent, failed (after its retries, "
            "or no such provider) or dropped (the provider's queue was full).",
            (*_ROLLOUT, "provider", "trigger", "result"),
            registry=registry,
        )
        self.step_changes = Counter(
            "imagerollout_step_changes_total",
            "Passes that completed a step and set the next step's weight.",
            registry=registry,
        )
        self.step_change_requests = Counter(
            "imagerollout_step_change_requests_total",
            "API requests made by those passes (route, status, event).",
            registry=registry,
        )
        self.capability_weight = Gauge(
            "imagerollout_capability_weight_percent",
            "Percent of each capability's jobs on each backend (spec.capabilities).",
            (*_ROLLOUT, "capability", "backend"),
            registry=registry,
        )
        self._capability_labels: dict[tuple[str, str], set[tuple[str, str]]] = {}
        self._info_labels: dict[tuple[str, str], tuple[str, str, str]] = {}
        self._metric_evaluations: dict[tuple[str, str], int] = {}

    def record(self, namespace: str, name: str, status: RolloutStatus) -> None:
        key = (namespace, name)
        self.weight.labels(*key).set(status.canary_weight)
        info = (
            status.phase.value if status.phase else "",
            status.stable.model if status.stable else "",
            status.canary.model if status.canary else "",
        )
        previous = self._info_labels.get(key)
        if previous is not None and previous != info:
            self.info.remove(*key, *previous)  # one series per rollout, not one per phase seen
        self.info.labels(*key, *info).set(1)
        self._info_labels[key] = info
        self._record_metric_gates(key, status)
        self._record_capabilities(key, status)
        analysis = status.analysis
        if analysis is None:
            return
        self.pairs.labels(*key).set(analysis.samples)
        for gate in analysis.gates:
            self.evaluations.labels(*key, gate.gate, gate.verdict).inc()
            self.gate_value.labels(*key, gate.gate, "baseline").set(float(gate.baseline))
            self.gate_value.labels(*key, gate.gate, "canary").set(float(gate.canary))
            self.gate_bound.labels(*key, gate.gate, "lower").set(float(gate.lower))
            self.gate_bound.labels(*key, gate.gate, "upper").set(float(gate.upper))

    def _record_metric_gates(self, key: tuple[str, str], status: RolloutStatus) -> None:
        metrics = status.metrics
        if metrics is None:
            return
        fresh = metrics.evaluations != self._metric_evaluations.get(key)
        self._metric_evaluations[key] = metrics.evaluations
        for gate in metrics.gates:
            if fresh and gate.verdict:
                self.metric_windows.labels(*key, gate.gate, gate.verdict).inc()
            arms = (("canary", gate.canary), ("baseline", gate.baseline), ("bound", gate.bound))
            for arm, value in arms:
                number = _number(value)
                if number is not None:
                    self.metric_gate_value.labels(*key, gate.gate, arm).set(number)

    def _record_capabilities(self, key: tuple[str, str], status: RolloutStatus) -> None:
        """One series per capability and backend it has now; a backend it left is removed."""
        now = {(c.name, b.service): b.weight for c in status.capabilities for b in c.backends}
        for labels in self._capability_labels.get(key, set()) - set(now):
            self.capability_weight.remove(*key, *labels)
        for labels, weight in now.items():
            self.capability_weight.labels(*key, *labels).set(weight)
        self._capability_labels[key] = set(now)

    def forget(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        for labels in self._capability_labels.pop(key, set()):
            self.capability_weight.remove(*key, *labels)
        self._metric_evaluations.pop(key, None)
        info = self._info_labels.pop(key, None)
        if info is not None:
            self.info.remove(*key, *info)
        for gauge in (self.weight, self.pairs):
            with contextlib.suppress(KeyError):
                gauge.remove(*key)


def _number(text: str | None) -> float | None:
    """Status numbers are strings; a bound such as "x1.5" or "[0, 1]" is not plotted."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None
