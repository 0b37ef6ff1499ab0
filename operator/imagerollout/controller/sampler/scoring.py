"""Score one probe's pair of generations into the plain numbers the core judges."""

from __future__ import annotations

import io
import threading
from concurrent.futures import BrokenExecutor
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from imagerollout.core.quality.gates import ArmScores, PairScores
from imagerollout.quality import perceptual
from imagerollout.quality.endpoint import Generation
from imagerollout.quality.ocr import OcrPool, TextScore
from imagerollout.quality.suite import Probe


class TextScorer(Protocol):
    def score_many(self, items: list[tuple[bytes, str]]) -> list[TextScore]: ...


class LazyOcrPool:
    """The OCR process pool, started on first use and rebuilt if it breaks.

    Starting it lazily keeps the operator's start-up independent of multiprocessing; a pool
    whose worker died (BrokenProcessPool, a lost resource tracker) is replaced, and the batch
    fails once so the sampler retries it.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: OcrPool | None = None
        self._lock = threading.Lock()

    def score_many(self, items: list[tuple[bytes, str]]) -> list[TextScore]:
        with self._lock:
            if self._pool is None:
                self._pool = OcrPool(workers=self.workers)
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


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def score_pairs(
    probes: list[Probe],
    generations: list[tuple[Generation, Generation]],
    ocr: TextScorer,
    gpu_second_price: float,
) -> list[ScoredPair]:
    """OCR runs as one batch over every image with expected text, in the process pool."""
    jobs: list[tuple[bytes, str]] = []
    slots: dict[tuple[int, int], int] = {}
    for i, (probe, arms) in enumerate(zip(probes, generations, strict=True)):
        for side, generation in enumerate(arms):
            if probe.expected_text and generation.image is not None:
                slots[(i, side)] = len(jobs)
                jobs.append((png_bytes(generation.image), probe.expected_text))
    texts = ocr.score_many(jobs) if jobs else []
    scored = []
    for i, (probe, (baseline, canary)) in enumerate(zip(probes, generations, strict=True)):
        b_text = texts[slots[(i, 0)]] if (i, 0) in slots else None
        c_text = texts[slots[(i, 1)]] if (i, 1) in slots else None
        pair = PairScores(
            stratum=probe.stratum,
            has_text=bool(probe.expected_text),
            baseline=_arm(baseline, b_text, gpu_second_price),
            canary=_arm(canary, c_text, gpu_second_price),
            ssim=_ssim(baseline, canary),
            phash=_phash(baseline, canary),
        )
        scored.append(ScoredPair(pair, (_read(b_text), _read(c_text))))
    return scored


def _read(score: TextScore | None) -> str | None:
    return score.text if score is not None else None


def _arm(generation: Generation, text: TextScore | None, price: float) -> ArmScores:
    cost = generation.cost if generation.cost is not None else price * generation.latency_s
    image = generation.image
    if image is None:
        return ArmScores(ok=False, latency_s=generation.latency_s, cost=cost)
    return ArmScores(
        ok=True,
        text_passed=text.passed if text else None,
        ned=text.ned if text else None,
        sharpness=perceptual.sharpness(image),
        exposure=perceptual.exposure(image),
        noise=perceptual.noise(image),
        colorfulness=perceptual.colorfulness(image),
        latency_s=generation.latency_s,
        cost=cost,
    )


def _ssim(baseline: Generation, canary: Generation) -> float | None:
    if baseline.image is None or canary.image is None:
        return None
    return perceptual.ssim(baseline.image, canary.image)


def _phash(baseline: Generation, canary: Generation) -> int | None:
    if baseline.image is None or canary.image is None:
        return None
    return perceptual.phash_distance(baseline.image, canary.image)
