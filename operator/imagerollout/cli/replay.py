"""`imagerollout judge --replay DIR`: re-score and re-judge a rollout's evidence, offline.

The stored images are scored again by the same code as the sampler (score_pairs: OCR with the
chosen engine, perceptual metrics, SSIM and pHash between the arms); latency, cost and errors
come from the records. Pairs are recorded in plan order and judged after each, stopping at the
first Rollback as the sampler does, so replaying with the settings of the run reproduces its
verdict and numbers, and another engine, margin or gate set answers "would it have caught it?".
No model is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from imagerollout.api.v1alpha1 import Analysis
from imagerollout.controller.sampler.runner import strata_of
from imagerollout.controller.sampler.scoring import score_pairs
from imagerollout.core.judge import GateResult, Outcome
from imagerollout.core.quality.analysis import (
    AnalysisState,
    StratumInfo,
    evaluate,
    judged_gates,
    record,
)
from imagerollout.quality.endpoint import Generation
from imagerollout.quality.evidence import StoredSample, read_pairs
from imagerollout.quality.scorer import Scorer
from imagerollout.quality.suite import Probe, Suite


def replay(
    directory: Path, analysis: Analysis, suite: Suite, scorer: Scorer
) -> tuple[AnalysisState, list[GateResult], Outcome, tuple[StratumInfo, ...]]:
    pairs = read_pairs(directory)
    if not pairs:
        raise ValueError(f"{directory}: no stored pairs (expected NNNNNN-baseline.json files)")
    strata = _strata(suite, [b.record for _, b, _ in pairs])
    gates = judged_gates(analysis, strata)
    probes = [_probe(baseline) for _, baseline, _ in pairs]
    generations = [(_generation(b), _generation(c)) for _, b, c in pairs]
    scored = score_pairs(probes, generations, scorer, float(analysis.gpu_second_price))
    state = AnalysisState()
    for pair in scored:
        state = record(state, gates, pair.pair)
        _, outcome = evaluate(analysis, state, strata, analysis.max_samples)
        if outcome == Outcome.ROLLBACK or state.samples >= analysis.max_samples:
            break  # the sampler stops here too
    results, outcome = evaluate(analysis, state, strata, analysis.max_samples)
    return state, results, outcome, strata


def _strata(suite: Suite, records: Sequence[Mapping[str, object]]) -> tuple[StratumInfo, ...]:
    """The suite's strata (minSamples); strata only the records name are judged with none."""
    known = strata_of(suite)
    names = {s.name for s in known}
    extra: dict[str, bool] = {}
    for rec in records:
        name = str(rec["stratum"])
        if name not in names:
            extra[name] = extra.get(name, False) or rec.get("expectedText") is not None
    return known + tuple(StratumInfo(name, text, 0) for name, text in extra.items())


def _probe(sample: StoredSample) -> Probe:
    rec = sample.record
    expected = rec.get("expectedText")
    return Probe(
        stratum=str(rec["stratum"]),
        prompt_id=str(rec["promptId"]),
        prompt=str(rec["prompt"]),
        expected_text=expected if isinstance(expected, str) else None,
        seed=int(str(rec["seed"])),
    )


def _generation(sample: StoredSample) -> Generation:
    rec = sample.record
    latency, cost, error = rec.get("latencySeconds"), rec.get("cost"), rec.get("error")
    return Generation(
        image=sample.image,
        latency_s=float(latency) if isinstance(latency, int | float) else 0.0,
        error=error if isinstance(error, str) else None,
        cost=float(cost) if isinstance(cost, int | float) else None,
    )
