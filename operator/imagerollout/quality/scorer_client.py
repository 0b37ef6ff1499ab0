"""RemoteScorer: score pairs on `imagerollout scorer` endpoints, spread over the ready ones.

Pair i of a batch goes first to endpoint (turn + i) mod n, all pairs at once, so a batch is
shared by every endpoint. A failed request (refused, timed out, HTTP error, bad answer) is
retried on the next endpoint, then again after a pause once every endpoint has failed, until
`give_up_s`; only then does `score` raise. A pair is never given a made-up score: the sampler
fails the batch and redoes it, so a scorer outage costs time, never a sample or the canary.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import urllib3
from PIL import Image

from imagerollout.quality.scorer import PairJob, PairResult, png_bytes, result_from_json

SCORE_PATH = "/v1/score"
log = logging.getLogger(__name__)


class ScorerUnavailableError(Exception):
    """No endpoint scored a pair within the retry budget."""


def encode_job(job: PairJob, ocr_engine: str | None = None) -> bytes:
    def image(value: Image.Image | None) -> str | None:
        return base64.b64encode(png_bytes(value)).decode() if value is not None else None

    body = {
        "baseline": image(job.baseline),
        "canary": image(job.canary),
        "expectedText": job.expected_text,
    }
    if ocr_engine is not None:  # the rollout's spec.analysis.ocr.engine; else the scorer's default
        body["ocrEngine"] = ocr_engine
    return json.dumps(body).encode()


class RemoteScorer:
    def __init__(
        self,
        endpoints: Callable[[], Sequence[str]],
        timeout_s: float = 30,
        give_up_s: float = 120,
        pause_s: float = 0.5,
        concurrency: int = 16,
        ocr_engine: str | None = None,
    ) -> None:
        self.ocr_engine = ocr_engine
        self.endpoints = endpoints  # base URLs of the ready endpoints, e.g. from EndpointSlices
        self.timeout = urllib3.Timeout(connect=min(5.0, timeout_s), read=timeout_s)
        self.give_up_s, self.pause_s = give_up_s, pause_s
        self._http = urllib3.PoolManager(num_pools=16, maxsize=concurrency, retries=False)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="scorer")
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.retries = 0  # requests that failed and were sent again (for tests and logs)

    def score(self, jobs: Sequence[PairJob]) -> list[PairResult]:
        with self._lock:
            turn = next(self._turn) * len(jobs)
        bodies = [encode_job(job, self.ocr_engine) for job in jobs]
        futures = [self._pool.submit(self._one, body, turn + i) for i, body in enumerate(bodies)]
        return [future.result() for future in futures]

    def _one(self, body: bytes, first: int) -> PairResult:
        deadline = time.monotonic() + self.give_up_s
        last = "no ready scorer endpoint"
        for attempt in itertools.count():
            urls = sorted(self.endpoints())
            if urls:
                url = urls[(first + attempt) % len(urls)]
                try:
                    return self._post(url, body)
                except (urllib3.exceptions.HTTPError, ValueError, KeyError, TypeError) as error:
                    last = f"{url}: {error}"
                    with self._lock:
                        self.retries += 1
                    log.info("scorer %s failed (%s); trying the next endpoint", url, error)
            if time.monotonic() >= deadline:
                raise ScorerUnavailableError(
                    f"no scorer answered within {self.give_up_s:g}s: {last}"
                )
            if not urls or (attempt + 1) % len(urls) == 0:  # every endpoint failed once
                time.sleep(self.pause_s)
        raise AssertionError("unreachable")

    def _post(self, url: str, body: bytes) -> PairResult:
        response = self._http.request(
            "POST",
            url.rstrip("/") + SCORE_PATH,
            body=body,
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}: {response.data[:200]!r}")
        raw: dict[str, Any] = json.loads(response.data)
        return result_from_json(raw)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.clear()
