"""The operator's own metrics: one info series per rollout, gate values and bounds."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from imagerollout.api.v1alpha1 import AnalysisStatus, GateStatus, Phase, Revision, RolloutStatus
from imagerollout.telemetry import OperatorMetrics

GATE = GateStatus(
    gate="text/logos",
    verdict="Fail",
    samples=12,
    baseline="0.9",
    canary="0.58",
    effect="-0.32",
    lower="-0.5",
    upper="-0.1",
)


def scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_a_rollout_exports_weight_phase_and_gates() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    status = RolloutStatus(
        phase=Phase.PROGRESSING,
        canary_weight=25,
        stable=Revision(revision="a", model="m:v1"),
        canary=Revision(revision="b", model="m:v2"),
        analysis=AnalysisStatus(samples=40, gates=[GATE]),
    )
    metrics.record("ns", "imr", status)
    text = scrape(registry)
    assert 'imagerollout_canary_weight_percent{name="imr",namespace="ns"} 25.0' in text
    assert 'imagerollout_analysis_pairs{name="imr",namespace="ns"} 40.0' in text
    assert (
        'imagerollout_gate_value{arm="canary",gate="text/logos",name="imr",namespace="ns"} 0.58'
        in text
    )
    assert 'bound="lower",gate="text/logos",name="imr",namespace="ns"} -0.5' in text
    assert 'verdict="Fail"} 1.0' in text


def test_a_phase_change_replaces_the_info_series_and_forget_drops_it() -> None:
    registry = CollectorRegistry()
    metrics = OperatorMetrics(registry)
    metrics.record("ns", "imr", RolloutStatus(phase=Phase.PROGRESSING))
    metrics.record("ns", "imr", RolloutStatus(phase=Phase.SUCCEEDED))
    text = scrape(registry)
    assert 'phase="Succeeded"' in text
    assert 'phase="Progressing"' not in text
    metrics.forget("ns", "imr")
    text = scrape(registry)
    assert "imagerollout_rollout_info{" not in text
    assert "imagerollout_canary_weight_percent{" not in text
