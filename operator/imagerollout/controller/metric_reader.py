"""Read one window of the production-traffic gates from the metric provider.

Every failure becomes data for the judge (an Inconclusive reading), never an exception:
a missing Secret, a template that cannot be rendered, an unreachable Prometheus.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import datetime

from imagerollout.api.metric_gates import MetricGate, MetricProvider
from imagerollout.api.v1alpha1 import RolloutSpec, RolloutStatus
from imagerollout.core.durations import parse_duration
from imagerollout.core.metrics.gating import gate_windows, window_due
from imagerollout.core.metrics.promql import TemplateError, arm_variables, gate_queries
from imagerollout.core.metrics.windows import ArmReading, GateReading, MetricsReading
from imagerollout.kube import objects
from imagerollout.kube.client import ApiError, Kube
from imagerollout.providers.metrics.prometheus import PrometheusProvider, auth_from_secret_data
from imagerollout.providers.metrics.provider import MetricQueryError, ProviderUnreachableError

log = logging.getLogger(__name__)


def read_metrics(
    kube: Kube,
    spec: RolloutSpec,
    status: RolloutStatus,
    namespace: str,
    name: str,
    now: datetime,
) -> MetricsReading | None:
    """The readings of a window when one is due, else None."""
    window = window_due(spec, status, now)
    if window is None or spec.metrics is None:
        return None
    try:
        provider = connect(kube, namespace, spec.metrics.provider)
    except (ValueError, ApiError) as error:
        return MetricsReading(window, error=f"metric provider: {error}")
    spans = gate_windows(spec, status, now)
    with closing(provider):
        gates = tuple(_read_gates(provider, spec.metrics.gates, namespace, name, spans, now))
    return MetricsReading(window, gates)


def connect(kube: Kube, namespace: str, spec: MetricProvider) -> PrometheusProvider:
    prometheus = spec.prometheus
    if prometheus is None:
        raise ValueError("no metric provider configured")
    auth = None
    ref = prometheus.auth_secret_ref
    if ref is not None:
        secret = kube.get_object("v1", "secrets", namespace, ref.name)
        if secret is None:
            raise ValueError(f"Secret {ref.name} not found")
        auth = auth_from_secret_data(secret.get("data") or {})
    timeout = parse_duration(prometheus.timeout).total_seconds()
    return PrometheusProvider(prometheus.address, timeout=timeout, auth=auth)


def _read_gates(
    provider: PrometheusProvider,
    gates: Sequence[MetricGate],
    namespace: str,
    name: str,
    spans: dict[str, int],
    now: datetime,
) -> Iterator[GateReading]:
    unreachable: str | None = None
    for gate in gates:
        window = spans[gate.name]
        if unreachable is not None:  # one timeout per pass, not one per query
            yield GateReading(gate.name, error=unreachable, window_seconds=window)
            continue
        arms = {
            "canary": arm_variables(namespace, name, objects.canary_name(name), "canary", window),
            "baseline": arm_variables(
                namespace, name, objects.primary_name(name), "primary", window
            ),
        }
        try:
            readings = {arm: _read_arm(provider, gate, v, now) for arm, v in arms.items()}
        except TemplateError as error:
            yield GateReading(gate.name, error=f"template: {error}", window_seconds=window)
            continue
        except MetricQueryError as error:
            log.warning("%s/%s gate %s: %s", namespace, name, gate.name, error)
            unreachable = str(error) if isinstance(error, ProviderUnreachableError) else None
            yield GateReading(gate.name, error=str(error), window_seconds=window)
            continue
        yield GateReading(gate.name, readings["canary"], readings["baseline"], None, window)


def _read_arm(
    provider: PrometheusProvider, gate: MetricGate, variables: dict[str, str], now: datetime
) -> ArmReading:
    queries = gate_queries(gate, variables)
    value = queries.value or queries.errors

    def run(query: str | None) -> float | None:
        return None if query is None else provider.query(query, now)

    return ArmReading(value=run(value), count=run(queries.count), age=run(queries.age))
