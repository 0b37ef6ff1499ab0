"""Score one probe's pair of generations into the plain numbers the core judges."""

from __future__ import annotations

import threading
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass

from imagerollout.core.quality.gates import ArmScores, PairScores
from imagerollout.quality.endpoint import Generation
from imagerollout.quality.ocr import OcrPool, TextScore, engine_factory
from imagerollout.quality.scorer import ImageScores, PairJob, PairResult, Scorer
from imagerollout.quality.suite import Probe


class LazyOcrPool:
    """The OCR process pool, started on first use and rebuilt if it breaks.

    Starting it lazily keeps the operator's start-up independent of multiprocessing; a pool
    whose worker died (BrokenProcessPool, a lost resource tracker) is replaced, and the batch
    fails once so the sampler retries it.
    """

    def __init__(self, workers: int, engine: str = "tesseract") -> None:
        self.workers = workers
        self.engine = engine
        self._pool: OcrPool | None = None
        self._lock = threading.Lock()

    def score_many(self, items: list[tuple[bytes, str]]) -> list[TextScore]:
        with self._lock:
            if self._pool is None:
                self._pool = OcrPool(self.workers, engine_factory(self.engine))
            pool = self._pool
        try:
            return pool.score_many(items)
        except (BrokenExecutor, OSError):
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.close()
            raise


@dataclass(frozen=True)
class ScoredPair:
    pair: PairScores
    texts: tuple[str | None, str | None]  # what OCR read: baseline, canary


def score_pairs(
    probes: list[Probe],
    generations: list[tuple[Generation, Generation]],
    scorer: Scorer,
    gpu_second_price: float,
) -> list[ScoredPair]:
    """The scorer (in-process or remote) scores the images; latency and cost come from here."""
    jobs = [
        PairJob(baseline.image, canary.image, probe.expected_text)
        for probe, (baseline, canary) in zip(probes, generations, strict=True)
    ]
    results = scorer.score(jobs)
    return [
        _scored(probe, arms, result, gpu_second_price)
        for probe, arms, result in zip(probes, generations, results, strict=True)
    ]


def _scored(
    probe: Probe, arms: tuple[Generation, Generation], result: PairResult, price: float
) -> ScoredPair:
    baseline, canary = arms
    pair = PairScores(
        stratum=probe.stratum,
        has_text=bool(probe.expected_text),
        baseline=_arm(baseline, result.baseline, price),
        canary=_arm(canary, result.canary, price),
        ssim=result.ssim,
        phash=result.phash,
    )
    return ScoredPair(pair, (_read(result.baseline), _read(result.canary)))


def _read(scores: ImageScores | None) -> str | None:
    return scores.text.text if scores is not None and scores.text is not None else None


def _arm(generation: Generation, scores: ImageScores | None, price: float) -> ArmScores:
    cost = generation.cost if generation.cost is not None else price * generation.latency_s
    if generation.image is None or scores is None:
        return ArmScores(ok=False, latency_s=generation.latency_s, cost=cost)
    text = scores.text
    return ArmScores(
        ok=True,
        text_passed=text.passed if text else None,
        ned=text.ned if text else None,
        sharpness=scores.sharpness,
        exposure=scores.exposure,
        noise=scores.noise,
        colorfulness=scores.colorfulness,
        latency_s=generation.latency_s,
        cost=cost,
    )
