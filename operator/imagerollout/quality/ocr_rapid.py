"""RapidOCR: PP-OCRv4 detection and recognition (ONNX, CPU) for scene text.

rapidocr-onnxruntime ships its three ONNX models inside the wheel, so nothing is downloaded
and a read-only root filesystem is fine: the models are only read from site-packages. OpenCV writes
nothing; onnxruntime writes a telemetry device id under $HOME/.cache when it can and keeps it
in memory when it cannot (HOME=/tmp in the image). Tesseract is made for documents; on
scene-like renders (rotation, textures, low contrast, small text) this engine reads far more
(docs/checklist.md), at about the same images per second per core.

Like the Tesseract pool, one thread per worker process (intra/inter op threads 1): onnxruntime
would otherwise start a thread per core in every worker and oversubscribe the CPUs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

# The detector resizes the shorter side to this (its default, 736, upscales a 512 px image and
# costs twice the time for no gain on our renders).
DET_SIDE = 512
MIN_SCORE = 0.5  # recognitions below this confidence are noise read from textures


class RapidOcrEngine:
    """OcrEngine: `read(image)` is every detected line, top to bottom, joined by spaces."""

    def __init__(self, det_side: int = DET_SIDE, threads: int = 1) -> None:
        import onnxruntime  # type: ignore[import-untyped]
        from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

        onnxruntime.set_default_logger_severity(3)  # errors only: no telemetry-id warning

        self._ocr: Any = RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=threads,
            det_limit_side_len=det_side,
            text_score=MIN_SCORE,
        )

    def read(self, image: Image.Image) -> str:
        pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # OpenCV's BGR order
        try:
            result, _ = self._ocr(np.ascontiguousarray(pixels))
        except (RuntimeError, ValueError):  # onnxruntime errors: a failed read, as for Tesseract
            return ""
        if not result:
            return ""
        lines = sorted(result, key=lambda line: (line[0][0][1], line[0][0][0]))
        return " ".join(str(line[1]) for line in lines)


def warm() -> RapidOcrEngine:
    """An engine with its sessions built and run once (the first run allocates its arenas)."""
    engine = RapidOcrEngine()
    engine.read(Image.new("RGB", (64, 32), "white"))
    return engine
