"""ImagesClient against a real HTTP server on loopback that misbehaves in every way we know.

Each case lives under its own path prefix of one server: the client for case "garbage" posts
to http://127.0.0.1:PORT/garbage/v1/images/generations.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import io
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imagerollout.quality.endpoint import (
    Generation,
    ImagesClient,
    SampleError,
    check_allowed,
    decode_image,
    extract_b64,
    normalized_origin,
)

Reply = Callable[[BaseHTTPRequestHandler], None]


def png(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def zero_png(width: int, height: int) -> bytes:
    """A 1-bit all-black PNG written by hand: tiny on disk, huge once decoded (a bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    rows_per_feed = 1000
    parts = [
        compressor.compress(row * min(rows_per_feed, height - y))
        for y in range(0, height, rows_per_feed)
    ]
    idat = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def images_json(image_bytes: bytes, *, wrap: bool = False) -> bytes:
    encoded = (
        base64.encodebytes(image_bytes).decode() if wrap else base64.b64encode(image_bytes).decode()
    )
    return json.dumps({"created": 0, "data": [{"b64_json": encoded}]}).encode()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    content_length: bool = True,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    if content_length:
        handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Reply:
    return lambda handler: send(handler, status, body, headers)


def slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(3)  # the server stalls; the client's short timeout must fire first
    send(handler, 200, images_json(png()))


def drip(handler: BaseHTTPRequestHandler) -> None:
    body = images_json(png())
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    for i in range(60):  # one byte every 50 ms: each read is quick, the whole is not
        handler.wfile.write(body[i : i + 1])
        handler.wfile.flush()
        time.sleep(0.05)


def stall_mid_body(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.write(b'{"data": [{"b64_json": "')
    handler.wfile.flush()
    time.sleep(3)  # headers and a little body, then silence


def stream_without_length(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, b'{"data": [{"b64_json": "' + b"A" * (2 * 1024 * 1024), content_length=False)


def close_early(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.write(b'{"data": [')
    handler.wfile.flush()
    handler.close_connection = True


GOOD_PNG = png()
HALF_PNG = GOOD_PNG[: len(GOOD_PNG) // 2]
GOOD_B64 = base64.b64encode(GOOD_PNG).decode()

CASES: dict[str, Reply] = {
    "good": reply(200, images_json(GOOD_PNG), {"x-image-cost": "0.0021"}),
    "good-wrapped": reply(200, images_json(GOOD_PNG, wrap=True)),
    "bad-cost": reply(200, images_json(GOOD_PNG), {"x-image-cost": "cheap"}),
    "http500": reply(500, json.dumps({"error": {"message": "boom"}}).encode()),
    "http502-html": reply(502, b"<html>" + b"x" * 1_000_000 + b"</html>"),
    "redirect": reply(302, b"", {"Location": "/good/v1/images/generations"}),
    "slow": slow,
    "drip": drip,
    "stall-body": stall_mid_body,
    "garbage": reply(200, b"<html>this is not json</html>"),
    "no-data": reply(200, b'{"data": []}'),
    "url-only": reply(200, b'{"data": [{"url": "http://example.invalid/a.png"}]}'),
    "json-list": reply(200, b"[1, 2, 3]"),
    "truncated-b64": reply(200, json.dumps({"data": [{"b64_json": GOOD_B64[:-3]}]}).encode()),
    "truncated-png": reply(200, images_json(HALF_PNG)),
    "text-file": reply(200, images_json(b"hello, I am a text file\n" * 10)),
    "bomb": reply(200, images_json(zero_png(20_000, 20_000))),
    "too-many-pixels": reply(200, images_json(zero_png(5_000, 5_000))),
    "oversized": reply(200, images_json(png(1024, 1024, (1, 2, 3)) + b"\x00" * 2_000_000)),
    "oversized-stream": stream_without_length,
    "gzip": reply(200, gzip.compress(images_json(GOOD_PNG)), {"Content-Encoding": "gzip"}),
    "close-early": close_early,
}


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()


def make_handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            case = self.path.strip("/").split("/")[0]
            with recorder.lock:
                recorder.requests.append({"case": case, "path": self.path, **json.loads(body)})
            # The client may give up mid-reply, as it should.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                CASES[case](self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def server(recorder: Recorder) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(recorder))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def generate(server: str, case: str, **client_args: Any) -> Generation:
    with ImagesClient(f"{server}/{case}", **client_args) as client:
        return client.generate('A sign that says "OPEN"', seed=7)


def test_good_response_gives_an_rgb_image_latency_and_cost(server: str, recorder: Recorder) -> None:
    result = generate(server, "good")
    assert result.error is None
    assert result.image is not None
    assert (result.image.mode, result.image.size) == ("RGB", (64, 48))
    assert result.image.getpixel((0, 0)) == (200, 30, 30)
    assert 0 < result.latency_s < 5
    assert result.cost == pytest.approx(0.0021)


def test_request_follows_the_images_api(server: str, recorder: Recorder) -> None:
    with ImagesClient(f"{server}/good/", model="v2") as client:
        client.generate("a prompt", seed=42, size="256x256")
    sent = recorder.requests[-1]
    assert sent["path"] == "/good/v1/images/generations"
    assert {k: sent[k] for k in ("prompt", "n", "size", "response_format", "seed", "model")} == {
        "prompt": "a prompt",
        "n": 1,
        "size": "256x256",
        "response_format": "b64_json",
        "seed": 42,
        "model": "v2",
    }


def test_base64_with_line_breaks_is_accepted(server: str) -> None:
    result = generate(server, "good-wrapped")
    assert result.error is None
    assert result.image is not None


def test_unparseable_cost_header_is_no_cost(server: str) -> None:
    result = generate(server, "bad-cost")
    assert result.image is not None
    assert result.cost is None


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("http500", "http 500: boom"),
        ("http502-html", "http 502"),
        ("redirect", "http 302"),
        ("garbage", "response is not JSON"),
        ("no-data", "response has no data[0].b64_json"),
        ("url-only", "response has no data[0].b64_json"),
        ("json-list", "response has no data[0].b64_json"),
        ("truncated-b64", "invalid base64 in data[0].b64_json"),
        ("text-file", "payload is not an image"),
        ("bomb", "decompression bomb"),
        ("too-many-pixels", "image too large: 5000x5000"),
        ("gzip", "unsupported content-encoding gzip"),
    ],
)
def test_bad_response_is_a_failed_sample(server: str, case: str, error: str) -> None:
    result = generate(server, case)
    assert (result.image, result.error) == (None, error)
    assert result.latency_s >= 0


def test_truncated_image_is_a_failed_sample(server: str) -> None:
    result = generate(server, "truncated-png")
    assert result.image is None
    assert result.error is not None
    assert result.error.startswith("corrupt image")


def test_oversized_body_is_refused_from_its_declared_length(server: str) -> None:
    result = generate(server, "oversized", max_bytes=1024 * 1024)
    assert result.image is None
    assert result.error is not None
    assert result.error.startswith("response too large:")


def test_oversized_stream_is_cut_at_the_cap(server: str) -> None:
    result = generate(server, "oversized-stream", max_bytes=1024 * 1024)
    assert (result.image, result.error) == (None, f"response too large: over {1024 * 1024} bytes")


def test_stalled_server_times_out(server: str) -> None:
    result = generate(server, "slow", timeout_s=0.3)
    assert (result.image, result.error) == (None, "timeout")
    assert result.latency_s < 2


def test_dripping_server_hits_the_overall_deadline(server: str) -> None:
    result = generate(server, "drip", timeout_s=0.5)
    assert (result.image, result.error) == (None, "timeout")
    assert result.latency_s < 2


def test_server_stalling_mid_body_times_out(server: str) -> None:
    result = generate(server, "stall-body", timeout_s=0.5)
    assert (result.image, result.error) == (None, "timeout")
    assert result.latency_s < 1.5


def test_client_settings_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ImagesClient("http://127.0.0.1:1", timeout_s=0)


def test_connection_closed_mid_body_is_a_failed_sample(server: str) -> None:
    result = generate(server, "close-early")
    assert result.image is None
    assert result.error is not None
    assert result.error.startswith("connection broken")


def test_refused_connection_is_a_failed_sample() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more.
    result = generate(f"http://127.0.0.1:{port}", "any", timeout_s=2)
    assert result.image is None
    assert result.error is not None
    assert result.error.startswith("connection failed")


def test_client_is_reusable_after_failures(server: str) -> None:
    with ImagesClient(server + "/good") as good, ImagesClient(server + "/garbage") as bad:
        for _ in range(3):
            assert bad.generate("p", 1).error == "response is not JSON"
            assert good.generate("p", 1).image is not None


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=300)
    | st.from_regex(rb'\A\{"data": ?\[\{"b64_json": ?"[A-Za-z0-9+/=]{0,80}"\}\]\}\Z')
)
def test_arbitrary_bodies_never_raise(body: bytes) -> None:
    with contextlib.suppress(SampleError):
        decode_image(extract_b64(body), 4096 * 4096)


def test_direct_decode_refuses_a_bomb_before_decoding() -> None:
    started = time.monotonic()
    with pytest.raises(SampleError, match="image too large: 5000x5000"):
        decode_image(zero_png(5_000, 5_000), max_pixels=4096 * 4096)
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("url", "patterns"),
    [
        ("http://127.0.0.1:8080", ["http://127.0.0.1:*"]),
        ("http://127.0.0.1:8080/v1/", ["http://127.0.0.1:*"]),
        ("HTTP://Canary.Team-A.svc.cluster.local:80", ["http://*.svc.cluster.local:80"]),
        ("http://canary.team-a.svc", ["http://canary.team-a.svc:80"]),
        ("https://models.example.com", ["http://nothing:1", "https://models.example.com:443"]),
        ("http://[::1]:9000", ["http://[[]::1]:*"]),
    ],
)
def test_allowlisted_urls_pass(url: str, patterns: list[str]) -> None:
    check_allowed(url, patterns)


@pytest.mark.parametrize(
    ("url", "patterns", "message"),
    [
        ("http://10.0.0.1:8080", ["http://127.0.0.1:*"], "not in the endpoint allowlist"),
        ("http://127.0.0.1:8080", [], "allowlist is empty"),
        ("ftp://127.0.0.1:21", ["*"], "must be an http or https URL"),
        ("file:///etc/passwd", ["*"], "must be an http or https URL"),
        ("http://127.0.0.1:80@evil.example", ["http://127.0.0.1:*"], "credentials"),
        ("http://user:pw@127.0.0.1:80", ["*"], "credentials"),
        ("http://127.0.0.1:99999", ["*"], "invalid port"),
        ("http://ho*st:80", ["*"], "invalid host"),
        ("http://:80", ["*"], "invalid host"),
        ("https://127.0.0.1:8080", ["http://127.0.0.1:*"], "not in the endpoint allowlist"),
    ],
)
def test_other_urls_are_refused(url: str, patterns: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_allowed(url, patterns)


def test_origin_fills_in_default_ports() -> None:
    assert normalized_origin("http://a.b") == "http://a.b:80"
    assert normalized_origin("https://A.B/path?q=1") == "https://a.b:443"


def test_the_suites_request_parameters_go_with_every_request() -> None:
    client = ImagesClient("http://127.0.0.1:1", parameters={"guidance_scale": 7.5, "prompt": "x"})
    payload = client._payload("A sign", 3, "64x64")
    assert payload["guidance_scale"] == 7.5
    assert payload["prompt"] == "A sign", "the probe's own fields win"
