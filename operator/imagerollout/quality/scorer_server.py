"""`imagerollout scorer`: a stateless HTTP service that scores pairs of images.

    POST /v1/score  {"baseline": b64 PNG | null, "canary": b64 PNG | null, "expectedText": str}
                 -> {"baseline": {sharpness, exposure, noise, colorfulness, text}, "canary": ...,
                     "ssim": float | null, "phash": int | null}
    GET  /healthz   200 while the process runs;  GET /readyz  200 once OCR has scored an image
    GET  /metrics   imagerollout_scorer_pairs_total, imagerollout_scorer_errors_total

It holds no state between requests, so any replica can score any pair: scale it with replicas
(or an HPA on CPU). OCR runs in an OcrPool of `--ocr-workers` processes; the perceptual metrics
in a thread pool beside it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError
from prometheus_client import CollectorRegistry, Counter, generate_latest

from imagerollout.api.ocr_settings import DEFAULT_ENGINE, OcrEngineName
from imagerollout.quality.endpoint import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from imagerollout.quality.ocr import OcrPool, engine_factory
from imagerollout.quality.scorer import PairJob, TextScorer, result_to_json, score_jobs

log = logging.getLogger(__name__)
READY_PROBE = (1, 1)
OCR_ENGINES = tuple(engine.value for engine in OcrEngineName)


class BadRequestError(ValueError):
    pass


def decode_image(value: object) -> Image.Image | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestError("an image must be a base64 string or null")
    try:
        data = base64.b64decode(value, validate=True)
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > DEFAULT_MAX_PIXELS:
            raise BadRequestError(f"image of {image.width}x{image.height} pixels is too large")
        image.load()
    except (binascii.Error, UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise BadRequestError(f"not an image: {err}") from None
    return image.convert("RGB")


def decode_engine(raw: dict[str, Any], default: str) -> str:
    engine = raw.get("ocrEngine", default)
    if engine not in OCR_ENGINES:
        raise BadRequestError(f"ocrEngine must be one of {', '.join(OCR_ENGINES)}: {engine!r}")
    return str(engine)


def decode_job(raw: object) -> PairJob:
    if not isinstance(raw, dict):
        raise BadRequestError("the body must be a JSON object")
    expected = raw.get("expectedText")
    if expected is not None and not isinstance(expected, str):
        raise BadRequestError("expectedText must be a string or null")
    return PairJob(decode_image(raw.get("baseline")), decode_image(raw.get("canary")), expected)


class ScorerApp:
    """`ocr_for` gives the text scorer of an engine name; `default_engine` serves requests that
    name none."""

    def __init__(
        self, ocr_for: Callable[[str], TextScorer], threads: int, default_engine: str
    ) -> None:
        self.ocr_for, self.default_engine = ocr_for, default_engine
        self.ready = False
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="score")
        self.registry = CollectorRegistry()
        self.pairs = Counter("imagerollout_scorer_pairs", "Pairs scored", registry=self.registry)
        self.errors = Counter(
            "imagerollout_scorer_errors", "Requests refused or failed", registry=self.registry
        )

    def app(self) -> web.Application:
        app = web.Application(client_max_size=2 * DEFAULT_MAX_BYTES + 4096)
        app.router.add_post("/v1/score", self.score)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.on_startup.append(self._warm_up)
        return app

    async def score(self, request: web.Request) -> web.Response:
        try:
            raw = await request.json()
            job = decode_job(raw)
            ocr = self.ocr_for(decode_engine(raw, self.default_engine))
        except (BadRequestError, json.JSONDecodeError) as error:
            self.errors.inc()
            return web.json_response({"error": str(error)}, status=400)
        loop = asyncio.get_running_loop()
        try:
            (result,) = await loop.run_in_executor(self._threads, score_jobs, [job], ocr)
        except Exception as error:  # a broken OCR pool: the client retries elsewhere
            self.errors.inc()
            log.exception("scoring failed")
            return web.json_response({"error": f"scoring failed: {error}"}, status=503)
        self.pairs.inc()
        return web.json_response(result_to_json(result))

    async def healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(self, _: web.Request) -> web.Response:
        if self.ready:
            return web.Response(text="ready")
        return web.Response(text="warming up", status=503)

    async def metrics(self, _: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")

    async def _warm_up(self, _: web.Application) -> None:
        """Start the OCR workers before taking traffic (readiness), in the background."""
        loop = asyncio.get_running_loop()
        image = Image.new("RGB", READY_PROBE, "white")

        def warm() -> None:
            score_jobs([PairJob(image, image, "A")], self.ocr_for(self.default_engine))
            self.ready = True

        loop.run_in_executor(self._threads, warm)


def serve(address: str, ocr_workers: int) -> int:
    host, _, port = address.rpartition(":")
    pools: dict[str, OcrPool] = {}  # one pool per engine that a rollout asks for, made on demand
    lock = threading.Lock()

    def ocr_for(engine: str) -> TextScorer:
        with lock:
            if engine not in pools:
                pools[engine] = OcrPool(ocr_workers, engine_factory(engine))
            return pools[engine]

    try:
        app = ScorerApp(ocr_for, max(2, ocr_workers * 2), DEFAULT_ENGINE.value).app()
        web.run_app(app, host=host or "0.0.0.0", port=int(port), access_log=None, print=None)
    finally:
        for pool in pools.values():
            pool.close()
    return 0
