"""OCR scoring with the real Tesseract (Debian tesseract-ocr), plus engine-agnostic logic."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytesseract  # type: ignore[import-untyped]
import pytest
from PIL import Image

from imagerollout.quality import ocr
from imagerollout.quality.ocr import (
    FAILED_READ,
    OcrPool,
    TesseractEngine,
    TextScore,
    binarize,
    otsu_level,
    score_png,
    score_reading,
    score_text,
)
from tests.quality.render import blank, garble, render_scene, to_png

TEXTS = (
    "OPEN",
    "OPEN 24 HOURS",
    "Fresh bread and good coffee every morning",
    "$19.99",
    "Dr. McAllister",
    "SUMMER SALE 50% OFF",
)


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


@pytest.fixture(scope="module")
def pool() -> Iterator[OcrPool]:
    with OcrPool(workers=2) as running:
        yield running


@pytest.mark.parametrize("text", TEXTS)
def test_a_clean_render_passes(engine: TesseractEngine, text: str) -> None:
    score = score_text(engine, render_scene(text, seed=1), text)
    assert score.passed, score.text
    assert score.ned < 0.2


@pytest.mark.parametrize("text", TEXTS)
def test_garbled_letters_fail(engine: TesseractEngine, text: str) -> None:
    wrong = garble(text, rate=0.3, seed=1)
    score = score_text(engine, render_scene(wrong, seed=1), text)
    assert not score.passed, (wrong, score.text)
    assert score.ned > 0.0


def test_a_blank_image_fails_without_crashing(engine: TesseractEngine) -> None:
    score = score_text(engine, blank(), "OPEN 24 HOURS")
    assert score == TextScore(passed=False, ned=1.0, text="")


def test_the_pool_agrees_with_one_engine(engine: TesseractEngine, pool: OcrPool) -> None:
    clean = [(render_scene(text, seed=2), text) for text in TEXTS[:3]]
    wrong = (render_scene(garble(TEXTS[1], 0.3, seed=2), seed=2), TEXTS[1])
    items = [(to_png(image), text) for image, text in [*clean, wrong, (blank(), TEXTS[2])]]
    expected = [score_png(engine, png, text) for png, text in items]
    assert pool.score_many(items) == expected


def test_the_pool_scores_undecodable_bytes_as_failed(pool: OcrPool) -> None:
    assert pool.score_many([(b"not an image", "OPEN")]) == [FAILED_READ]
    assert pool.submit(b"", "OPEN").result() == FAILED_READ


def test_an_expected_text_without_words_passes(engine: TesseractEngine) -> None:
    assert score_text(engine, blank(), "").passed


def test_the_engine_limits_openmp_to_one_thread() -> None:
    TesseractEngine()
    assert os.environ[ocr.OMP_THREAD_LIMIT] == "1"


def test_a_timeout_is_a_failed_read() -> None:
    hurried = TesseractEngine(timeout_s=0.001)
    assert score_text(hurried, render_scene("OPEN", seed=1), "OPEN") == FAILED_READ


def test_a_missing_tesseract_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(pytesseract.TesseractNotFoundError):
        score_text(TesseractEngine(), render_scene("OPEN", seed=1), "OPEN")


class ScriptedEngine:
    """Candidate readings from a script; records how many were read."""

    def __init__(self, readings: list[str]) -> None:
        self.readings = readings
        self.consumed = 0

    def read(self, image: Image.Image) -> str:
        return self.readings[0]

    def reads(self, image: Image.Image) -> Iterator[str]:
        for reading in self.readings:
            self.consumed += 1
            yield reading


class PlainEngine:
    def read(self, image: Image.Image) -> str:
        return "OPEN 24 HOURS"


def test_the_best_reading_wins() -> None:
    engine = ScriptedEngine(["0PEN 2 HOURS", "OPEN 24 H0URS", "nothing"])
    score = score_text(engine, blank(), "OPEN 24 HOURS")
    assert not score.passed
    assert score.text == "OPEN 24 H0URS"
    assert engine.consumed == 3


def test_a_passing_reading_stops_the_search() -> None:
    engine = ScriptedEngine(["OPEN 24 HOURS", "never read"])
    assert score_text(engine, blank(), "OPEN 24 HOURS").passed
    assert engine.consumed == 1
    score_text(engine, blank(), "OPEN 24 HOURS", stop_at_pass=False)
    assert engine.consumed == 3


def test_any_engine_with_read_plugs_in() -> None:
    assert score_text(PlainEngine(), blank(), "open 24 hours") == score_reading(
        "OPEN 24 HOURS", "open 24 hours"
    )


def test_otsu_splits_two_levels_between_them() -> None:
    histogram = [0] * 256
    histogram[40], histogram[200] = 500, 1500
    level = otsu_level(histogram)
    assert level is not None
    assert 40 <= level < 200


def test_otsu_needs_two_levels() -> None:
    assert otsu_level([0] * 100 + [7] + [0] * 155) is None


def test_binarize_gives_dark_text_on_white() -> None:
    light_on_dark = Image.new("RGB", (64, 64), (20, 20, 60))
    light_on_dark.paste((240, 240, 240), (20, 20, 44, 30))
    binary = binarize(light_on_dark)
    assert binary.mode == "L"
    levels = [level for level, count in enumerate(binary.histogram()) if count]
    assert levels == [0, 255]
    assert binary.getpixel((2, 2)) == 255
    assert binary.getpixel((32, 25)) == 0
