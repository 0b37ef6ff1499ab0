"""post_json against a real HTTP server on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imagerollout.providers.post import post_json

BODIES: list[dict[str, object]] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        BODIES.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        if self.path == "/slow":
            time.sleep(2)
        code = {"/ok": 200, "/fail": 500, "/moved": 302}.get(self.path, 204)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "http://example.com/")
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # /slow: the client gave up long ago
            self.wfile.write(b"nope " * 100 if code == 500 else b"")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_2xx_is_ok_and_the_body_arrives_as_json(base: str) -> None:
    reply = post_json(f"{base}/ok", {"name": "imagegen", "step": 2}, 5)

    assert reply.ok
    assert reply.status == 200
    assert reply.error is None
    assert BODIES[-1] == {"name": "imagegen", "step": 2}


def test_an_error_reply_carries_the_code_and_an_excerpt_but_not_the_path(base: str) -> None:
    reply = post_json(f"{base}/fail", {}, 5)

    assert not reply.ok
    assert reply.status == 500
    assert reply.error is not None
    assert reply.error.startswith(f"HTTP 500 from {base}: nope nope")
    assert "/fail" not in reply.error
    assert len(reply.error) < 300


def test_a_redirect_is_not_followed(base: str) -> None:
    reply = post_json(f"{base}/moved", {}, 5)

    assert (reply.ok, reply.status) == (False, 302)


def test_a_slow_receiver_times_out(base: str) -> None:
    started = time.monotonic()
    reply = post_json(f"{base}/slow", {}, 0.5)

    assert reply.status is None
    assert time.monotonic() - started < 1.5
    assert reply.error is not None
    assert reply.error.startswith(f"no answer from {base}")


def test_nobody_listening_is_no_answer() -> None:
    reply = post_json("http://127.0.0.1:9/", {}, 2)

    assert reply.status is None
    assert not reply.ok
