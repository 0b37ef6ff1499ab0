"""`imagerollout judge --replay`: the stored evidence re-judged offline gives the same verdict."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imagerollout.api.v1alpha1 import Analysis, Gate, Metric, Stage0
from imagerollout.cli.main import main
from imagerollout.cli.replay import replay
from imagerollout.controller.sampler.runner import Sampler, SamplerConfig
from imagerollout.core.judge import Outcome
from imagerollout.core.quality.analysis import AnalysisState, evaluate
from imagerollout.demo.server import Knobs, render
from imagerollout.quality.endpoint import Generation
from imagerollout.quality.evidence import EvidenceStore
from imagerollout.quality.ocr import OcrPool
from imagerollout.quality.scorer import InProcessScorer
from imagerollout.quality.suite import Suite, default_suite


class RenderingClient:
    """The demo server's renderer without HTTP: same (prompt, seed), same image."""

    def __init__(self, knobs: Knobs, cost: float) -> None:
        self.knobs, self.cost = knobs, cost

    def generate(self, prompt: str, seed: int, size: str = "512x512") -> Generation:
        width, height = (int(side) for side in size.split("x"))
        return Generation(render(prompt, seed, width, height, self.knobs), 0.05, None, self.cost)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def ocr() -> Iterator[InProcessScorer]:
    with OcrPool(workers=2) as pool:
        yield InProcessScorer(pool)


def analysis(margin: str, metric: Metric = Metric.OCR_ACCURACY) -> Analysis:
    return Analysis(
        gates=[Gate(name="gate", metric=metric, max_degradation=margin)],
        min_samples=1,
        max_samples=48,
        size="256x256",
        stage0=Stage0(samples=0, batch_size=8),
    )


def sample(
    tmp_path: Path, ocr: InProcessScorer, spec: Analysis, suite: Suite
) -> tuple[Sampler, Path]:
    store = EvidenceStore(tmp_path, retain_rollouts=2)
    config = SamplerConfig("ns/replay/rev", spec, suite, "http://b", "http://c", store)
    sampler = Sampler(config, AnalysisState(), ocr)
    clients = [RenderingClient(Knobs(), 0.04), RenderingClient(Knobs(substitution_rate=0.5), 0.03)]
    with ThreadPoolExecutor(4) as pool:
        while not sampler.done():
            sampler.run_batch(pool, clients)  # type: ignore[arg-type]
    assert sampler.evidence_dir is not None
    return sampler, Path(sampler.evidence_dir)


def test_replaying_with_the_same_settings_gives_the_recorded_verdict_and_numbers(
    tmp_path: Path, ocr: InProcessScorer
) -> None:
    spec, suite = analysis("10"), default_suite()
    sampler, folder = sample(tmp_path, ocr, spec, suite)
    recorded, outcome = evaluate(spec, sampler.state, sampler.strata, spec.max_samples)
    assert outcome == Outcome.ROLLBACK, "the garbling canary fails"

    state, results, replayed, _ = replay(folder, spec, suite, ocr)
    assert replayed == outcome
    assert state.samples == sampler.state.samples
    assert state.binary == sampler.state.binary
    assert state.continuous == sampler.state.continuous
    assert results == recorded


def test_replaying_with_other_gates_judges_the_same_images_again(
    tmp_path: Path, ocr: InProcessScorer
) -> None:
    spec, suite = analysis("10"), default_suite()
    _, folder = sample(tmp_path, ocr, spec, suite)
    # Garbled letters leave the image as sharp: without a text gate nothing fails.
    _, results, outcome, _ = replay(folder, analysis("0.3", Metric.SHARPNESS), suite, ocr)
    assert outcome != Outcome.ROLLBACK, results
    assert {r.gate for r in results} >= {"gate", "errors"}


def test_the_command_prints_the_table_and_the_recorded_outcome(
    tmp_path: Path, ocr: InProcessScorer, capsys: pytest.CaptureFixture[str]
) -> None:
    _, folder = sample(tmp_path, ocr, analysis("10"), default_suite())
    (folder / "verdict.json").write_text('{"outcome": "Rollback", "samples": 12}')
    argv = ["judge", "--replay", str(folder), "--gate", "gate:OCRAccuracy:10", "--ocr"]
    code = main([*argv, "tesseract", "--max-samples", "48", "--size", "256x256"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "recorded: Rollback after 12 pairs" in err
    assert "outcome: Rollback" in out
    assert "\ngate " in out


def test_an_empty_folder_is_an_error(tmp_path: Path, ocr: InProcessScorer) -> None:
    with pytest.raises(ValueError, match="no stored pairs"):
        replay(tmp_path, analysis("10"), default_suite(), ocr)
