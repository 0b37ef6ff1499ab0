"""NetCost on the seed's numbers: the costlier, more accurate upgrade passes on net cost although
a raw cost gate rolls it back, and a cheaper model that garbles text fails."""

from __future__ import annotations

import pytest

from imagerollout.api.net_cost import NetCostPrices
from imagerollout.api.v1alpha1 import Gate, Metric
from imagerollout.core.judge import GateResult, Outcome, Verdict
from imagerollout.core.quality.gates import ArmScores
from imagerollout.core.quality.gating import snapshot
from imagerollout.core.quality.net_cost import net_cost
from tests.core.quality.seed_numbers import (
    AFTER,
    BEFORE,
    GARBLER,
    cost_gate,
    judge_stream,
    net_cost_gate,
)


def verdict_of(results: list[GateResult], name: str) -> Verdict:
    return next(r.verdict for r in results if r.gate == name)


def test_net_cost_adds_rework_for_a_failed_text_check_and_priced_latency() -> None:
    passed = ArmScores(ok=True, text_passed=True, latency_s=2.0, cost=0.05)
    failed = ArmScores(ok=True, text_passed=False, latency_s=2.0, cost=0.05)
    no_text = ArmScores(ok=True, text_passed=None, latency_s=2.0, cost=0.05)
    assert net_cost(passed, 0.1, 0.001) == pytest.approx(0.052)
    assert net_cost(failed, 0.1, 0.001) == pytest.approx(0.152)
    assert net_cost(no_text, 0.1, 0.0) == pytest.approx(0.05)
    assert net_cost(ArmScores(ok=True), 0.1, 0.0) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_seeds_upgrade_passes_on_net_cost_with_rework_of_a_few_cents(seed: int) -> None:
    # Break-even rework: 0.02 / 0.28 = $0.071. At $0.10 the upgrade saves $0.008 an image.
    outcome, pairs, results, state = judge_stream(net_cost_gate("0.10"), BEFORE, AFTER, seed)
    assert outcome == Outcome.PROMOTE, results
    assert pairs < 2000
    assert verdict_of(results, "net-cost") == Verdict.PASS
    snap = snapshot(state, 0.05, [net_cost_gate("0.10")])
    assert snap.canary.cost_per_image is not None
    assert snap.baseline.cost_per_image is not None
    assert float(snap.canary.cost_per_image) > float(snap.baseline.cost_per_image)
    assert snap.canary.net_cost_per_usable_image is not None
    assert snap.baseline.net_cost_per_usable_image is not None
    assert float(snap.canary.net_cost_per_usable_image) < float(
        snap.baseline.net_cost_per_usable_image
    )


def test_the_same_upgrade_fails_a_raw_cost_gate() -> None:
    outcome, _, results, _ = judge_stream(cost_gate(), BEFORE, AFTER, 1)
    assert outcome == Outcome.ROLLBACK
    assert verdict_of(results, "cost") == Verdict.FAIL


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_cheaper_model_that_garbles_text_fails_on_net_cost(seed: int) -> None:
    outcome, _, results, _ = judge_stream(net_cost_gate("0.10"), BEFORE, GARBLER, seed)
    assert outcome == Outcome.ROLLBACK, results
    assert verdict_of(results, "net-cost") == Verdict.FAIL


def test_without_a_net_cost_gate_the_snapshot_divides_cost_by_accuracy() -> None:
    _, _, _, state = judge_stream(cost_gate("1"), BEFORE, AFTER, 1, max_pairs=400)
    snap = snapshot(state, 0.05)
    assert snap.baseline.net_cost_per_usable_image is not None
    rate = float(snap.baseline.typography_accuracy or 0)
    assert float(snap.baseline.net_cost_per_usable_image) == pytest.approx(0.045 / rate, rel=1e-3)


def test_net_cost_needs_its_prices_and_only_net_cost_takes_them() -> None:
    with pytest.raises(ValueError, match="netCost"):
        Gate(name="n", metric=Metric.NET_COST, max_degradation="0.01")
    with pytest.raises(ValueError, match="netCost"):
        Gate(
            name="c",
            metric=Metric.COST_PER_IMAGE,
            max_degradation="0.01",
            net_cost=NetCostPrices(rework_cost="1"),
        )
