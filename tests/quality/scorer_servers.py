"""`imagerollout scorer` apps served in this process (a thread each), with a fake OCR."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from imagerollout.quality.ocr import TextScore
from imagerollout.quality.scorer_server import ScorerApp


class FakeOcr:
    """Reads every image as the expected text (so results are easy to compare)."""

    def __init__(self) -> None:
        self.images = 0

    def score_many(self, items: list[tuple[bytes, str]]) -> list[TextScore]:
        self.images += len(items)
        return [TextScore(passed=True, ned=0.0, text=expected) for _, expected in items]


class Running:
    def __init__(
        self,
        scorer: ScorerApp,
        url: str,
        loop: asyncio.AbstractEventLoop,
        engines: dict[str, FakeOcr],
    ) -> None:
        self.scorer, self.url, self.loop = scorer, url, loop
        self.engines = engines  # the fake OCR of each engine a request named, made on demand


@contextmanager
def scorer_app(ocr: FakeOcr | None = None, default_engine: str = "rapidocr") -> Iterator[Running]:
    engines: dict[str, FakeOcr] = {}

    def ocr_for(engine: str) -> FakeOcr:
        return engines.setdefault(engine, ocr or FakeOcr())

    scorer = ScorerApp(ocr_for, 2, default_engine)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(scorer.app(), access_log=None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield Running(scorer, f"http://127.0.0.1:{port}", loop, engines)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
