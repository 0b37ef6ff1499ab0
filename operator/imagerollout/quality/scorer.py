"""Scoring a probe's pair of images: OCR against the expected text, and perceptual metrics.

One protocol, two implementations: InProcessScorer (this process's OCR pool, the default) and
RemoteScorer (quality/scorer_client.py: `imagerollout scorer` pods behind a Service). Both run
`score_jobs`, so a pair scores the same wherever it is scored.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from PIL import Image

from imagerollout.quality import perceptual
from imagerollout.quality.ocr import TextScore


class TextScorer(Protocol):
    def score_many(self, items: list[tuple[bytes, str]]) -> list[TextScore]: ...


@dataclass(frozen=True)
class PairJob:
    baseline: Image.Image | None  # None: that arm returned no image
    canary: Image.Image | None
    expected_text: str | None


@dataclass(frozen=True)
class ImageScores:
    sharpness: float
    exposure: float
    noise: float
    colorfulness: float
    text: TextScore | None  # None when the probe expects no text


@dataclass(frozen=True)
class PairResult:
    baseline: ImageScores | None
    canary: ImageScores | None
    ssim: float | None
    phash: int | None


class Scorer(Protocol):
    def score(self, jobs: Sequence[PairJob]) -> list[PairResult]:
        """Results in job order; raises if a job could not be scored (never a made-up score)."""
        ...


class InProcessScorer:
    def __init__(self, ocr: TextScorer) -> None:
        self.ocr = ocr

    def score(self, jobs: Sequence[PairJob]) -> list[PairResult]:
        return score_jobs(jobs, self.ocr)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def score_jobs(jobs: Sequence[PairJob], ocr: TextScorer) -> list[PairResult]:
    """OCR runs as one batch over every image with expected text; the rest here."""
    ocr_jobs: list[tuple[bytes, str]] = []
    slots: dict[tuple[int, int], int] = {}
    for i, job in enumerate(jobs):
        for side, image in enumerate((job.baseline, job.canary)):
            if job.expected_text and image is not None:
                slots[(i, side)] = len(ocr_jobs)
                ocr_jobs.append((png_bytes(image), job.expected_text))
    texts = ocr.score_many(ocr_jobs) if ocr_jobs else []
    results = []
    for i, job in enumerate(jobs):
        arms = [
            _image(image, texts[slots[(i, side)]] if (i, side) in slots else None)
            for side, image in enumerate((job.baseline, job.canary))
        ]
        ssim, phash = None, None
        if job.baseline is not None and job.canary is not None:
            ssim = perceptual.ssim(job.baseline, job.canary)
            phash = perceptual.phash_distance(job.baseline, job.canary)
        results.append(PairResult(arms[0], arms[1], ssim, phash))
    return results


def _image(image: Image.Image | None, text: TextScore | None) -> ImageScores | None:
    if image is None:
        return None
    return ImageScores(
        sharpness=perceptual.sharpness(image),
        exposure=perceptual.exposure(image),
        noise=perceptual.noise(image),
        colorfulness=perceptual.colorfulness(image),
        text=text,
    )


# The wire format of `imagerollout scorer` (JSON; images travel as base64 PNG).
def result_to_json(result: PairResult) -> dict[str, Any]:
    return asdict(result)


def result_from_json(raw: dict[str, Any]) -> PairResult:
    def arm(value: dict[str, Any] | None) -> ImageScores | None:
        if value is None:
            return None
        text = value.get("text")
        numbers = {k: float(value[k]) for k in ("sharpness", "exposure", "noise", "colorfulness")}
        return ImageScores(**numbers, text=TextScore(**text) if text is not None else None)

    ssim, phash = raw.get("ssim"), raw.get("phash")
    return PairResult(
        baseline=arm(raw.get("baseline")),
        canary=arm(raw.get("canary")),
        ssim=float(ssim) if ssim is not None else None,
        phash=int(phash) if phash is not None else None,
    )
