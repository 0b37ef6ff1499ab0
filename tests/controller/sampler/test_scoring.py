"""The operator's OCR pool starts lazily and replaces itself when a worker dies."""

from __future__ import annotations

import os
import signal
from concurrent.futures import BrokenExecutor

import pytest

from imagerollout.controller.sampler.scoring import LazyOcrPool
from imagerollout.quality.scorer import png_bytes
from tests.quality.render import render_scene


def test_a_broken_pool_fails_one_batch_and_is_replaced() -> None:
    pool = LazyOcrPool(workers=1)
    image = png_bytes(render_scene("OPEN", seed=1))
    assert pool.score_many([(image, "OPEN")])[0].passed
    inner = pool._pool
    assert inner is not None
    for pid in list(inner._executor._processes):  # a worker killed by the OOM killer, say
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(BrokenExecutor):
        pool.score_many([(image, "OPEN")])
    assert pool.score_many([(image, "OPEN")])[0].passed
    assert pool._pool is not inner
