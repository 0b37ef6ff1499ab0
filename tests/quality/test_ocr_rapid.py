"""RapidOCR behind OcrEngine: reads scene text, in a pool, without writing anywhere."""

from __future__ import annotations

import os

import pytest

from imagerollout.api.ocr_settings import DEFAULT_ENGINE, OcrSettings
from imagerollout.api.v1alpha1 import Analysis
from imagerollout.quality.ocr import OcrPool, TesseractEngine, engine_factory, score_text
from imagerollout.quality.ocr_rapid import RapidOcrEngine, warm
from tests.quality.render import render_scene, to_png
from tests.quality.scene_render import render_scene_text


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return warm()


def test_it_reads_a_clean_render(engine: RapidOcrEngine) -> None:
    assert score_text(engine, render_scene("FRESH BREAD", 1), "FRESH BREAD").passed


def test_it_reads_rotated_and_low_contrast_scene_text(engine: RapidOcrEngine) -> None:
    for seed in (1, 3):  # rotated, low-contrast
        image, variation = render_scene_text("GRAND OPENING", seed)
        assert score_text(engine, image, "GRAND OPENING").passed, variation


def test_a_blank_image_reads_as_nothing(engine: RapidOcrEngine) -> None:
    image = render_scene("X", 1).resize((64, 64)).convert("L").point(lambda _: 255)
    assert engine.read(image) == ""


def test_it_scores_in_a_pool_with_an_unwritable_home() -> None:
    # The operator image runs as non-root on a read-only root filesystem. The models are only
    # read from site-packages; onnxruntime keeps its telemetry id in memory when HOME cannot be
    # written (a path under /proc cannot be created even by root).
    before = os.environ.get("HOME")
    os.environ["HOME"] = "/proc/imagerollout-no-home"
    try:
        with OcrPool(1, engine_factory("rapidocr")) as pool:
            scores = pool.score_many([(to_png(render_scene("OPEN 24", 2)), "OPEN 24")])
    finally:
        os.environ["HOME"] = before or ""
    assert scores[0].passed


def test_engines_by_name_and_the_measured_default() -> None:
    assert engine_factory("tesseract") is TesseractEngine
    assert engine_factory("rapidocr") is warm
    with pytest.raises(ValueError, match="unknown OCR engine"):
        engine_factory("easyocr")
    assert Analysis().ocr == OcrSettings(engine=DEFAULT_ENGINE)
    assert Analysis.model_validate({"ocr": {"engine": "tesseract"}}).ocr.engine == "tesseract"
