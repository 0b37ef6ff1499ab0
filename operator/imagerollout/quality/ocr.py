"""OCR typographic fidelity: Tesseract behind a small engine interface, and a process pool.

Measured on this kind of machine (docs/scoring.md): one Tesseract thread per process
(OMP_THREAD_LIMIT=1) with two processes beats OpenMP threads; psm 11 (sparse text) reads
more scene text than psm 3, and the better of the two reads most; greyscale, a 3 px
median filter and an Otsu threshold read more than the raw image.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

import numpy as np
import pytesseract  # type: ignore[import-untyped]
from PIL import Image, ImageFilter, ImageOps

from imagerollout.quality.textmatch import normalize, substring_ned, words_found

OMP_THREAD_LIMIT = "OMP_THREAD_LIMIT"
DEFAULT_PSMS = (11, 3)  # psm 11 first: it reads more scene text; psm 3 only when 11 misses
MAX_TEXT_CHARS = 4000  # longer OCR output is clutter read as text; cap the edit-distance cost


class OcrEngine(Protocol):
    """Reads the text in an image. Swap in a faster binding by implementing `read`."""

    def read(self, image: Image.Image) -> str: ...


@runtime_checkable
class MultiReadEngine(Protocol):
    """An engine with several candidate readings (e.g. page segmentation modes), best first."""

    def reads(self, image: Image.Image) -> Iterator[str]: ...


@dataclass(frozen=True)
class TextScore:
    """One image's OCR score against its expected text.

    passed: every expected word was found after normalization.
    ned: edit distance from the normalized expected text to the closest stretch of the
        normalized OCR text, over the expected length; 0 is perfect, 1 is nothing found.
    text: the OCR reading the score comes from.
    """

    passed: bool
    ned: float
    text: str


FAILED_READ = TextScore(passed=False, ned=1.0, text="")


def greyscale(image: Image.Image) -> Image.Image:
    return image.convert("L")


def binarize(image: Image.Image) -> Image.Image:
    """Greyscale, 3 px median, Otsu threshold, black text on white (the majority colour)."""
    grey = image.convert("L").filter(ImageFilter.MedianFilter(3))
    level = otsu_level(grey.histogram())
    if level is None:
        return grey  # a single grey level: nothing to separate
    binary = grey.point([0 if value <= level else 255 for value in range(256)])
    return ImageOps.invert(binary) if _mostly_dark(binary) else binary


def otsu_level(histogram: Sequence[int]) -> int | None:
    """The grey level that best splits a 256-bin histogram in two (None if it cannot)."""
    counts = np.asarray(histogram, dtype=np.float64)
    below = np.cumsum(counts)
    above = below[-1] - below
    mass_below = np.cumsum(counts * np.arange(counts.size))
    mean_total = mass_below[-1] / below[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_total * below - mass_below) ** 2 / (below * above)
    between[~np.isfinite(between)] = -1.0
    best = int(np.argmax(between))
    return best if between[best] > 0 else None


def _mostly_dark(binary: Image.Image) -> bool:
    histogram = binary.histogram()
    return histogram[0] > histogram[255]


Preprocess = Callable[[Image.Image], Image.Image]


class TesseractEngine:
    """Tesseract through pytesseract: one process per read, OMP_THREAD_LIMIT=1.

    `reads` yields one reading per page segmentation mode in `psms`, lazily, so a
    caller that is satisfied by the first one never pays for the second.
    """

    def __init__(
        self,
        psms: Sequence[int] = DEFAULT_PSMS,
        lang: str = "eng",
        timeout_s: float = 30.0,
        preprocess: Preprocess | None = binarize,
        extra_config: str = "",
    ) -> None:
        # pytesseract passes os.environ to the tesseract process; OpenMP threads only
        # oversubscribe the CPUs when several reads run at once.
        os.environ[OMP_THREAD_LIMIT] = "1"
        self.psms = tuple(psms)
        self.lang = lang
        self.timeout_s = timeout_s
        self.preprocess = preprocess
        self.extra_config = extra_config

    def read(self, image: Image.Image) -> str:
        """The reading of the first page segmentation mode."""
        return next(self.reads(image), "")

    def reads(self, image: Image.Image) -> Iterator[str]:
        prepared = self.preprocess(image) if self.preprocess else image.convert("RGB")
        with tempfile.TemporaryDirectory(prefix="imagerollout-ocr-") as folder:
            path = Path(folder) / "image.bmp"  # BMP: no compression cost, read by Leptonica
            prepared.save(path, format="BMP")
            for psm in self.psms:
                yield self._run(str(path), psm)

    def _run(self, path: str, psm: int) -> str:
        config = f"--psm {psm} {self.extra_config}".strip()
        try:
            text: str = pytesseract.image_to_string(
                path, lang=self.lang, config=config, timeout=self.timeout_s
            )
        except pytesseract.TesseractNotFoundError:
            raise  # a broken installation must not look like a bad model
        except (RuntimeError, pytesseract.TesseractError, OSError):
            return ""  # timeout or unreadable image: a failed read
        return text.strip()


def score_text(
    engine: OcrEngine, image: Image.Image, expected: str, *, stop_at_pass: bool = True
) -> TextScore:
    """Score the engine's best reading of `image` against `expected`.

    With a MultiReadEngine the candidates are read in turn and the best kept (passed
    first, then lowest ned); `stop_at_pass` stops at the first reading that passes.
    """
    if not isinstance(engine, MultiReadEngine):
        return score_reading(engine.read(image), expected)
    best: TextScore | None = None
    with contextlib.closing(_generator(engine.reads(image))) as readings:
        for text in readings:
            score = score_reading(text, expected)
            if best is None or _rank(score) > _rank(best):
                best = score
            if best.passed and stop_at_pass:
                break
    return best or FAILED_READ


def _generator(items: Iterator[str]) -> Generator[str, None, None]:
    """Wrap an iterator so that stopping early closes it (and its temporary files)."""
    yield from items


def score_reading(text: str, expected: str) -> TextScore:
    """Score one OCR reading against the expected text."""
    normalized = normalize(text[:MAX_TEXT_CHARS])
    return TextScore(
        passed=words_found(expected, normalized),
        ned=substring_ned(normalize(expected), normalized),
        text=text,
    )


def _rank(score: TextScore) -> tuple[bool, float]:
    return (score.passed, -score.ned)


def score_png(engine: OcrEngine, png: bytes, expected: str) -> TextScore:
    """Decode image bytes and score them; undecodable bytes score as a failed read."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            return score_text(engine, image, expected)
    except (OSError, ValueError, Image.DecompressionBombError):
        return FAILED_READ


EngineFactory = Callable[[], OcrEngine]


def engine_factory(name: str) -> EngineFactory:
    """The picklable factory of an engine by its spec name (tesseract, rapidocr)."""
    if name == "rapidocr":
        from imagerollout.quality.ocr_rapid import warm

        return warm
    if name == "tesseract":
        return TesseractEngine
    raise ValueError(f"unknown OCR engine {name!r}: expected tesseract or rapidocr")


_worker_engine: OcrEngine | None = None


def _init_worker(factory: EngineFactory) -> None:
    global _worker_engine
    os.environ[OMP_THREAD_LIMIT] = "1"
    _worker_engine = factory()


def _score_in_worker(png: bytes, expected: str) -> TextScore:
    assert _worker_engine is not None, "worker not initialised"
    return score_png(_worker_engine, png, expected)


class OcrPool:
    """Scores images in `workers` processes, each with its own engine and one OCR thread.

    `engine_factory` must be picklable (a class or module-level function). Workers start
    from a fork server, so the pool is safe to create in a threaded operator process; as
    with any spawned pool, workers import the main module, so a script must create the
    pool under `if __name__ == "__main__":`. Create it once and reuse it.
    """

    def __init__(self, workers: int = 2, engine_factory: EngineFactory = TesseractEngine) -> None:
        self.workers = workers
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_process_context(),
            initializer=_init_worker,
            initargs=(engine_factory,),
        )

    def submit(self, png: bytes, expected: str) -> Future[TextScore]:
        """Score one image in the background (wrap with asyncio.wrap_future in async code)."""
        return self._executor.submit(_score_in_worker, png, expected)

    def score_many(self, items: Sequence[tuple[bytes, str]]) -> list[TextScore]:
        """Score (PNG bytes, expected text) pairs; results keep the input order."""
        futures = [self.submit(png, expected) for png, expected in items]
        return [future.result() for future in futures]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OcrPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _process_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
