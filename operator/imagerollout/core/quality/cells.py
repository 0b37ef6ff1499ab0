"""Judge one gate from its cells: where the Fail budget goes, and when the gate passes.

Fail budget (alpha, the chance of rolling back a canary as good as the baseline), by the union
bound: ERRORS_FAIL_SHARE to the Errors gate, the rest split evenly over the quality gates; in a
quality gate POOLED_FAIL_SHARE to the pooled cell and the rest evenly over its strata. A failed
request is the least ambiguous evidence, but under the null one can at most double a bettor's
capital, so the Errors gate needs log2(1/alpha) of them whatever the test: it gets most of the
budget, and the quality gates, whose bets are sized to their effects, pay only a log factor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imagerollout.api.v1alpha1 import Gate, Metric
from imagerollout.core.judge import BinaryStats, GateResult, Verdict
from imagerollout.core.judge.binary import binary_result, failure, fast_bets, passes
from imagerollout.core.judge.wsr import BettingState
from imagerollout.core.quality.gates import METRICS, MetricSpec

ERRORS_FAIL_SHARE = 0.75
POOLED_FAIL_SHARE = 0.5
MIN_SAMPLES_PER_STRATUM = 5
ERRORS_DESIGN = (0.25, 0.99)  # (drop, baseline success rate) the error gate's SPRT bets on
MAX_BINARY_DROP = 0.999


@dataclass(frozen=True)
class StratumInfo:
    name: str
    has_text: bool
    min_samples: int


@dataclass(frozen=True)
class Cells:
    gate: Gate
    strata: tuple[StratumInfo, ...]  # a Fail cell each (none for Errors: judged pooled)


def gate_key(gate: Gate, stratum: str) -> str:
    """A stratum's cell of a gate; the gate's own (pooled) cell is keyed by its name."""
    return f"{gate.name}/{stratum}"


def stratum_cell(name: str) -> bool:
    """A result named by gate_key, not a gate's own (gate names are DNS labels: no "/")."""
    return "/" in name


def cell_gate(name: str) -> str:
    """The gate a result belongs to: the name before gate_key's "/" (a gate's own: itself)."""
    return name.split("/", 1)[0]


class CellJudge:
    def __init__(self, alpha: float, planned: list[Cells]) -> None:
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        self.alpha = alpha
        errors = sum(c.gate.metric == Metric.ERRORS for c in planned)
        quality = len(planned) - errors
        share = ERRORS_FAIL_SHARE if errors and quality else 1.0
        self._errors_alpha = alpha * share / max(errors, 1)
        self._quality_alpha = alpha * (1.0 - share if errors else 1.0) / max(quality, 1)

    def fail_alphas(self, cells: Cells) -> tuple[float, float]:
        """(pooled cell, each stratum cell)."""
        if cells.gate.metric == Metric.ERRORS:
            return self._errors_alpha, self._errors_alpha
        if not cells.strata:
            return self._quality_alpha, self._quality_alpha
        rest = self._quality_alpha * (1.0 - POOLED_FAIL_SHARE) / len(cells.strata)
        return self._quality_alpha * POOLED_FAIL_SHARE, rest

    def naming_alpha(self, cells: Cells) -> float:
        """Once the pooled cell fails, the level at which a stratum is named as failing too.

        Closed testing: a stratum's null is rejected when every intersection holding it is.
        Those holding every stratum fall with the gate's own test (pooled at half the gate's
        budget, or a stratum at its share); a smaller set of at most S - 1 strata is tested by
        Bonferroni at the gate's whole budget. So with the pooled Fail in hand, a stratum needs
        only alpha_gate / (S - 1), which for three text strata is the pooled cell's own level.
        """
        return self._quality_alpha / max(len(cells.strata) - 1, 1)

    def results(
        self,
        cells: Cells,
        binary: Mapping[str, BinaryStats],
        betting: Mapping[str, BettingState],
    ) -> list[GateResult]:
        gate, spec = cells.gate, METRICS[cells.gate.metric]
        pooled_alpha, cell_alpha = self.fail_alphas(cells)
        keys = [(gate_key(gate, s.name), s) for s in cells.strata]
        failed = {k: _failure(gate, spec, k, binary, betting, cell_alpha) for k, _ in keys}
        pooled_fail = _failure(gate, spec, gate.name, binary, betting, pooled_alpha)
        if pooled_fail is not None and keys:
            named = self.naming_alpha(cells)
            for key, _ in keys:
                failed[key] = failed[key] or _failure(gate, spec, key, binary, betting, named)
        pooled = betting.get(gate.name)
        proven = _passes(gate, spec, binary, pooled, self.alpha)
        short = [
            s.name
            for key, s in keys
            if _n(binary, betting, key) < max(s.min_samples, MIN_SAMPLES_PER_STRATUM)
        ]
        if not cells.strata and _n(binary, betting, gate.name) < MIN_SAMPLES_PER_STRATUM:
            short = ["all strata"]
        any_fail = pooled_fail is not None or any(f is not None for f in failed.values())
        passed = not any_fail and not short and proven
        if pooled_fail is not None:
            where = _worst_stratum(spec, keys, binary, betting)
            verdict, why = Verdict.FAIL, f"{pooled_fail}; {where}" if where else pooled_fail
        elif passed:
            verdict, why = Verdict.PASS, f"worse by at most {gate.max_degradation} in all strata"
        elif short and proven:
            verdict, why = Verdict.INCONCLUSIVE, f"needs more pairs in {', '.join(short)}"
        else:
            verdict, why = Verdict.INCONCLUSIVE, "no verdict yet"
        head = _result(gate.name, spec, binary, pooled, verdict, why, (self.alpha, pooled_alpha))
        out = [head]
        for key, _ in keys:
            reason = failed[key]
            cell_verdict = (
                Verdict.FAIL if reason else Verdict.PASS if passed else Verdict.INCONCLUSIVE
            )
            cell_why = reason or ("the gate passed" if passed else "no Fail")
            out.append(
                _result(
                    key, spec, binary, betting.get(key), cell_verdict, cell_why, (cell_alpha,) * 2
                )
            )
        return out


def _passes(
    gate: Gate,
    spec: MetricSpec,
    binary: Mapping[str, BinaryStats],
    pooled: BettingState | None,
    alpha: float,
) -> bool:
    """The pooled non-inferiority test: "worse than maxDegradation" rejected at alpha.

    Binary gates use the count-based mixture of `betting`: on 0/1 outcomes its six fixed bets
    beat an adaptive bettor, which learns the rare discordant pairs' spread late (on A/A noise
    at 0.9, 96% pass within 1460 pairs against 85%).
    """
    if spec.binary:
        stats = binary.get(gate.name)
        return stats is not None and stats.n > 0 and passes(stats, _drop(spec, gate), alpha)
    return pooled is not None and pooled.rejects_up(alpha)


def _worst_stratum(
    spec: MetricSpec,
    keys: list[tuple[str, StratumInfo]],
    binary: Mapping[str, BinaryStats],
    betting: Mapping[str, BettingState],
) -> str:
    """Where the pooled evidence comes from, so on-call knows where to look."""
    if not keys:
        return ""

    def evidence(key: str) -> float:
        if spec.binary:
            stats = binary.get(key)
            return float(stats.baseline_only - stats.canary_only) if stats else 0.0
        cell = betting.get(key)
        return -cell.mean * cell.n if cell else 0.0

    key = max((k for k, _ in keys), key=evidence)
    return f"worst stratum {key}"


def _drop(spec: MetricSpec, gate: Gate) -> float:
    """A binary gate's margin as a drop in rate, below 1 (the tests need a possible drop)."""
    return min(spec.margin(gate), MAX_BINARY_DROP)


def _n(binary: Mapping[str, BinaryStats], betting: Mapping[str, BettingState], key: str) -> int:
    cell = betting.get(key) or binary.get(key)
    return cell.n if cell else 0


def _failure(
    gate: Gate,
    spec: MetricSpec,
    key: str,
    binary: Mapping[str, BinaryStats],
    betting: Mapping[str, BettingState],
    alpha: float,
) -> str | None:
    if spec.binary:
        stats = binary.get(key)
        if stats is None or not stats.n:
            return None
        drop = _drop(spec, gate)
        design = ERRORS_DESIGN if gate.metric == Metric.ERRORS else (None, 0.9)
        return failure(stats, drop, alpha, fast_bets(drop, *design))
    cell = betting.get(key)
    if cell is None or not cell.rejects_down(alpha):
        return None
    return f"worse by more than {gate.max_degradation}"


def _result(
    name: str,
    spec: MetricSpec,
    binary: Mapping[str, BinaryStats],
    cell: BettingState | None,
    verdict: Verdict,
    why: str,
    alphas: tuple[float, float],
) -> GateResult:
    if spec.binary:
        return binary_result(name, binary.get(name) or BinaryStats(), verdict, why, *alphas)
    n = cell.n if cell else 0
    sign = 1.0 if spec.higher_is_better else -1.0
    if cell is None or not n:
        lower, upper, effect, base, can = -spec.scale, spec.scale, 0.0, 0.0, 0.0
    else:
        low_x, high_x = cell.bounds(*alphas)
        effect = spec.show_effect(sign * cell.mean)
        lower, upper = sorted((spec.show_effect(sign * low_x), spec.show_effect(sign * high_x)))
        base, can = spec.show(cell.sum_b / n), spec.show(cell.sum_c / n)
    reason = f"canary {can:.4g} vs baseline {base:.4g}, {verdict} after {n} pairs ({why})"
    return GateResult(name, verdict, n, base, can, effect, lower, upper, reason)
