"""`imagerollout judge`: the suite, scorers and judge outside Kubernetes (CI, before/after runs).

`--replay DIR` judges a stored evidence folder again instead, offline (cli/replay.py).
Exit status: 0 every gate passed, 1 a gate failed, 2 inconclusive at --max-samples.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from imagerollout.api.net_cost import NetCostPrices
from imagerollout.api.ocr_settings import DEFAULT_ENGINE, OcrEngineName, OcrSettings
from imagerollout.api.v1alpha1 import Analysis, Gate, Metric, Stage0
from imagerollout.cli.progress import JudgeProgress, progress_for
from imagerollout.controller.sampler.runner import Sampler, SamplerConfig
from imagerollout.core.judge import GateResult, Outcome
from imagerollout.core.quality.analysis import AnalysisState, evaluate
from imagerollout.core.quality.gates import gates_of
from imagerollout.core.quality.gating import gate_statuses, snapshot
from imagerollout.quality.evidence import EvidenceStore
from imagerollout.quality.suite import Suite, default_suite, load_suite
from imagerollout.report.page import Attempt, build

VERDICT_FILE = "verdict.json"  # the judge's report, beside the evidence it came from
EXIT = {Outcome.PROMOTE: 0, Outcome.ROLLBACK: 1, Outcome.INCONCLUSIVE: 2, Outcome.CONTINUE: 2}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", help="baseline OpenAI Images API base URL")
    parser.add_argument("--canary", help="canary OpenAI Images API base URL")
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="re-score and re-judge a rollout's evidence folder offline (no model calls), "
        "with these settings (--ocr, --gate, ...)",
    )
    parser.add_argument("--suite", type=Path, help="suite YAML (default: the built-in suite)")
    parser.add_argument(
        "--gate",
        action="append",
        metavar="NAME:METRIC:MAX[:STRATUM,...]",
        help="a gate, e.g. typography:OCRAccuracy:3 (default: the default gate set, as for "
        "analysis: {} in a rollout: text, errors, latency, sharpness)",
    )
    parser.add_argument(
        "--rework-cost", default="0", help="reworkCost of NetCost gates (per failed text check)"
    )
    parser.add_argument("--latency-cost", default="0", help="latencyCost of NetCost gates (per s)")
    parser.add_argument("--alpha", default="0.05")
    parser.add_argument("--min-samples", type=int, default=1)
    parser.add_argument("--max-samples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", default="512x512")
    parser.add_argument("--gpu-second-price", default="0")
    parser.add_argument("--evidence", type=Path, help="directory for raw outputs")
    parser.add_argument("--json", dest="json_out", help="write the result as JSON ('-': stdout)")
    parser.add_argument("--ocr-workers", type=int, default=2)
    parser.add_argument(
        "--ocr",
        choices=[e.value for e in OcrEngineName],
        default=DEFAULT_ENGINE.value,
        help=f"OCR engine of the text checks (default {DEFAULT_ENGINE.value})",
    )
    parser.add_argument(
        "--report", type=Path, help="write the HTML evidence report (the operator's page) here"
    )


def parse_gate(text: str, prices: NetCostPrices | None = None) -> Gate:
    """NAME:METRIC:MAX[:STRATUM,...]; a NetCost gate takes `prices` (--rework-cost ...)."""
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise ValueError(f"--gate {text!r}: expected NAME:METRIC:MAX[:STRATUM,...]")
    strata = parts[3].split(",") if len(parts) == 4 else []
    metric = Metric(parts[1])
    priced = prices if metric == Metric.NET_COST else None
    return Gate(
        name=parts[0], metric=metric, max_degradation=parts[2], strata=strata, net_cost=priced
    )


def run(args: argparse.Namespace) -> int:
    from imagerollout.quality.ocr import OcrPool, engine_factory
    from imagerollout.quality.scorer import InProcessScorer

    if args.replay is None and not (args.baseline and args.canary):
        raise SystemExit("imagerollout judge: --baseline and --canary are required (or --replay)")
    prices = NetCostPrices(rework_cost=args.rework_cost, latency_cost=args.latency_cost)
    analysis = Analysis(
        gates=[parse_gate(g, prices) for g in args.gate or []],
        alpha=args.alpha,
        min_samples=args.min_samples,
        max_samples=args.max_samples,
        size=args.size,
        stage0=Stage0(samples=0, batch_size=args.batch_size),
        gpu_second_price=args.gpu_second_price,
        ocr=OcrSettings(engine=args.ocr),
    )
    suite = load_suite(args.suite.read_text()) if args.suite else default_suite()
    if args.replay is not None:
        return _replay(args, analysis, suite)
    with contextlib.ExitStack() as stack:
        evidence = args.evidence
        if evidence is None and args.report:  # the page shows pairs: keep them while judging
            evidence = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        store = EvidenceStore(evidence, retain_rollouts=20) if evidence else None
        config = SamplerConfig("judge", analysis, suite, args.baseline, args.canary, store)
        scorer = InProcessScorer(OcrPool(args.ocr_workers, engine_factory(args.ocr)))
        sampler = Sampler(config, AnalysisState(), scorer)
        results, outcome = _judge(sampler, analysis, progress_for(sys.stderr, analysis.max_samples))
        report = _report(analysis, sampler.state, results, outcome, sampler.evidence_dir)
        if sampler.evidence_dir:  # what a replay of this folder compares with
            Path(sampler.evidence_dir, VERDICT_FILE).write_text(json.dumps(report, indent=2))
        _print_table(report)
        if args.json_out:
            _write_json(report, args.json_out)
        if args.report:
            args.report.write_text(
                build(judge_attempt(args, report, results, sampler.evidence_dir))
            )
            print(f"report: {args.report}", file=sys.stderr)
    return EXIT[outcome]


def _replay(args: argparse.Namespace, analysis: Analysis, suite: Suite) -> int:
    from imagerollout.cli.replay import replay
    from imagerollout.quality.ocr import OcrPool, engine_factory
    from imagerollout.quality.scorer import InProcessScorer

    with OcrPool(args.ocr_workers, engine_factory(args.ocr)) as ocr:
        state, results, outcome, _ = replay(args.replay, analysis, suite, InProcessScorer(ocr))
    report = _report(analysis, state, results, outcome, str(args.replay))
    recorded = args.replay / VERDICT_FILE
    if recorded.is_file():
        before = json.loads(recorded.read_text())
        print(f"recorded: {before['outcome']} after {before['samples']} pairs", file=sys.stderr)
    _print_table(report)
    if args.json_out:
        _write_json(report, args.json_out)
    return EXIT[outcome]


def _judge(
    sampler: Sampler, analysis: Analysis, progress: JudgeProgress
) -> tuple[list[GateResult], Outcome]:
    """Batches until the first decision (Promote or Rollback) or maxSamples."""
    clients = sampler.clients()
    try:
        with sampler.pool() as pool:
            outcome = Outcome.CONTINUE
            while outcome != Outcome.PROMOTE and not sampler.done():
                sampler.run_batch(pool, clients)
                state = sampler.state
                results, outcome = evaluate(analysis, state, sampler.strata, analysis.max_samples)
                errors = (state.baseline_errors, state.canary_errors)
                progress.update(state.samples, errors, outcome, results)
    finally:
        progress.close()
    return evaluate(analysis, sampler.state, sampler.strata, analysis.max_samples)


def judge_attempt(
    args: argparse.Namespace,
    report: dict[str, Any],
    results: list[GateResult],
    evidence: str | None,
) -> Attempt:
    """The report page of a judge run: the same sections as a rollout's."""
    analysis = {
        "outcome": report["outcome"],
        "samples": report["samples"],
        "maxSamples": args.max_samples,
        "gates": [g.model_dump(by_alias=True) for g in gate_statuses(results)],
        "snapshot": report["snapshot"],
    }
    return Attempt(
        title="imagerollout judge",
        verdict=report["outcome"],
        message=f"{report['outcome']} after {report['samples']} pairs",
        facts=[("baseline", args.baseline), ("canary", args.canary)],
        analysis=analysis,
        evidence=Path(evidence) if evidence else None,
    )


def _report(
    analysis: Analysis,
    state: AnalysisState,
    results: list[GateResult],
    outcome: Outcome,
    evidence: str | None,
) -> dict[str, Any]:
    return {
        "outcome": outcome.value,
        "samples": state.samples,
        "gates": [{**asdict(r), "verdict": r.verdict.value} for r in results],
        "snapshot": snapshot(state, float(analysis.alpha), gates_of(analysis)).model_dump(
            by_alias=True
        ),
        "evidence": evidence,
    }


def _print_table(report: dict[str, Any]) -> None:
    print(file=sys.stderr)
    header = f"{'GATE/STRATUM':<28} {'VERDICT':<13} {'PAIRS':>6} {'BASELINE':>9} {'CANARY':>8}"
    print(f"{header} {'EFFECT':>8}  BOUNDS")
    for gate in report["gates"]:
        print(
            f"{gate['gate']:<28} {gate['verdict']:<13} {gate['samples']:>6} "
            f"{gate['baseline']:>9.3f} {gate['canary']:>8.3f} {gate['effect']:>+8.3f}  "
            f"[{gate['lower']:+.3f}, {gate['upper']:+.3f}]"
        )
    snap = report["snapshot"]
    for arm in ("baseline", "canary"):
        values = snap[arm]
        print(
            f"{arm:<9} typography {values['typographyAccuracy']}  "
            f"latency {values['latencySeconds']}s  cost/image {values['costPerImage']}  "
            f"net cost/usable image {values['netCostPerUsableImage']}  errors {values['errors']}"
        )
    print(f"outcome: {report['outcome']} after {report['samples']} pairs")


def _write_json(report: dict[str, Any], target: str) -> None:
    text = json.dumps(report, indent=2)
    if target == "-":
        print(text)
    else:
        Path(target).write_text(text)
