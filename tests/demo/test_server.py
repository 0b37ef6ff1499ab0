"""The demo model server, run as a real process on a free loopback port."""

from __future__ import annotations

import base64
import json
import queue
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import pytest
import urllib3
from PIL import Image

from imagerollout.demo.server import (
    Knobs,
    ServerConfig,
    degrade_text,
    look_alikes,
    png_bytes,
    quoted_text,
    render,
)
from imagerollout.quality.endpoint import ImagesClient
from imagerollout.quality.suite import default_suite

STARTUP_S = 20.0
LISTENING = re.compile(r"listening on (http://\S+)")
SUITE = default_suite()
TYPOGRAPHY = SUITE.stratum("typography").prompts[0]
LOGO = SUITE.stratum("logos").prompts[0]
PLAIN = SUITE.stratum("plain-scenes").prompts[0]
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=10))


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: IO[str]


def _first_line(stream: IO[str], timeout: float) -> str:
    """The server's first stdout line, or "" if none arrives before the deadline."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def _wait_healthy(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if HTTP.request("GET", f"{url}/healthz").status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url}/healthz did not answer within {STARTUP_S}s")


def start(*args: str) -> Server:
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the server; stop() closes it
    command = [sys.executable, "-m", "imagerollout.demo.server", "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    deadline = time.monotonic() + STARTUP_S
    match = LISTENING.search(_first_line(process.stdout, STARTUP_S))
    if match is None:
        process.kill()
        log.seek(0)
        raise AssertionError(f"demo server did not start: {log.read()}")
    _wait_healthy(match.group(1), deadline)
    return Server(process, match.group(1), log)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.log.close()


@pytest.fixture(scope="module")
def clean() -> Iterator[Server]:
    server = start("--model-name", "v1", "--image-cost", "0.002")
    yield server
    stop(server)


@pytest.fixture(scope="module")
def regressed() -> Iterator[Server]:
    server = start(
        "--model-name", "v2", "--regress-stratum", "logos", "--substitution-rate", "0.5",
        "--drop-words", "0.2", "--blur", "2",
    )  # fmt: skip
    yield server
    stop(server)


def post(url: str, body: dict[str, Any]) -> urllib3.BaseHTTPResponse:
    return HTTP.request(
        "POST",
        f"{url}/v1/images/generations",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


def image_b64(url: str, prompt: str, seed: int) -> str:
    response = post(url, {"prompt": prompt, "n": 1, "seed": seed, "response_format": "b64_json"})
    assert response.status == 200, response.data
    encoded: str = response.json()["data"][0]["b64_json"]
    return encoded


def test_generates_an_image_the_client_accepts(clean: Server) -> None:
    with ImagesClient(clean.url) as client:
        result = client.generate(TYPOGRAPHY.prompt, seed=TYPOGRAPHY.seeds[0])
    assert result.error is None
    assert result.image is not None
    assert result.image.size == (512, 512)
    assert result.cost == pytest.approx(0.002)


def test_response_follows_the_images_api(clean: Server) -> None:
    response = post(clean.url, {"prompt": PLAIN.prompt, "n": 2, "size": "256x128", "seed": 3})
    assert response.status == 200
    assert response.headers["x-model-name"] == "v1"
    payload = response.json()
    assert payload["model"] == "v1"
    assert isinstance(payload["created"], int)
    assert len(payload["data"]) == 2
    png = base64.b64decode(payload["data"][0]["b64_json"])
    assert png.startswith(b"\x89PNG")
    assert payload["data"][0] != payload["data"][1]  # consecutive seeds


def test_healthz_names_the_model(clean: Server) -> None:
    response = HTTP.request("GET", f"{clean.url}/healthz")
    assert (response.status, response.json()) == (200, {"status": "ok", "model": "v1"})


def test_same_prompt_and_seed_give_the_same_bytes(clean: Server) -> None:
    first = image_b64(clean.url, TYPOGRAPHY.prompt, 7)
    assert image_b64(clean.url, TYPOGRAPHY.prompt, 7) == first
    assert image_b64(clean.url, TYPOGRAPHY.prompt, 8) != first
    assert image_b64(clean.url, LOGO.prompt, 7) != first


def test_regression_is_confined_to_its_stratum(clean: Server, regressed: Server) -> None:
    for unaffected in (TYPOGRAPHY, PLAIN, SUITE.stratum("dense-layouts").prompts[0]):
        seed = unaffected.seeds[0]
        assert image_b64(regressed.url, unaffected.prompt, seed) == image_b64(
            clean.url, unaffected.prompt, seed
        ), unaffected.id
    for logo in SUITE.stratum("logos").prompts:
        seed = logo.seeds[0]
        assert image_b64(regressed.url, logo.prompt, seed) != image_b64(
            clean.url, logo.prompt, seed
        ), logo.id


def test_error_rate_one_fails_every_request() -> None:
    server = start("--error-rate", "1.0", "--latency-ms", "30")
    try:
        for seed in range(3):
            started = time.monotonic()
            response = post(server.url, {"prompt": TYPOGRAPHY.prompt, "seed": seed})
            assert time.monotonic() - started >= 0.03
            assert response.status == 500
            assert response.json()["error"]["type"] == "server_error"
        with ImagesClient(server.url) as client:
            result = client.generate(TYPOGRAPHY.prompt, seed=1)
        assert result.image is None
        assert result.error is not None
        assert result.error.startswith("http 500")
    finally:
        stop(server)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"n": 1}, "prompt"),
        ({"prompt": "x", "response_format": "url"}, "b64_json"),
        ({"prompt": "x", "size": "big"}, "size"),
        ({"prompt": "x", "size": "9000x9000"}, "size"),
        ({"prompt": "x", "n": 10}, "n must"),
        ({"prompt": "x", "seed": -1}, "seed"),
        ({"prompt": "x", "seed": True}, "seed"),
    ],
)
def test_bad_requests_get_400(clean: Server, body: dict[str, Any], message: str) -> None:
    response = post(clean.url, body)
    assert response.status == 400
    assert message in response.json()["error"]["message"]


def test_unknown_regress_stratum_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imagerollout.demo.server", "--regress-stratum", "nope"],
        capture_output=True,
        text=True,
        timeout=STARTUP_S,
    )
    assert result.returncode == 2
    assert "'nope' is not in the suite" in result.stderr


def test_quoted_text_is_what_gets_rendered() -> None:
    assert quoted_text('A sign that says "OPEN 24 HOURS"') == "OPEN 24 HOURS"
    assert quoted_text("A quiet landscape") is None


def test_degradation_is_deterministic_and_monotone_in_the_rate() -> None:
    text = "The quick brown fox jumps over the lazy dog 12.50"
    low = degrade_text(text, Knobs(substitution_rate=0.1), random.Random(5))
    high = degrade_text(text, Knobs(substitution_rate=0.4), random.Random(5))
    assert low == degrade_text(text, Knobs(substitution_rate=0.1), random.Random(5))
    changed_low = {i for i, (a, b) in enumerate(zip(text, low, strict=True)) if a != b}
    changed_high = {i for i, (a, b) in enumerate(zip(text, high, strict=True)) if a != b}
    assert changed_low < changed_high
    assert degrade_text(text, Knobs(drop_words=1.0), random.Random(5)) == ""


def test_substitutions_are_visually_different_and_keep_the_kind() -> None:
    text = "OIl0S5B8Z2 abc XYZ 0123456789"
    out = degrade_text(text, Knobs(substitution_rate=1.0), random.Random(1))
    for before, after in zip(text, out, strict=True):
        if before == " ":
            assert after == " "
            continue
        assert after not in look_alikes(before)
        assert (before.isupper(), before.islower(), before.isdigit()) == (
            after.isupper(),
            after.islower(),
            after.isdigit(),
        )


def test_knobs_apply_everywhere_without_a_stratum() -> None:
    knobs = Knobs(blur=1.0)
    everywhere = ServerConfig(knobs=knobs)
    confined = ServerConfig(knobs=knobs, regress_stratum="logos", stratum_of_prompt={"p": "logos"})
    assert everywhere.knobs_for("anything") == knobs
    assert confined.knobs_for("p") == knobs
    assert confined.knobs_for("anything") == Knobs()


def ocr_words(image: Image.Image) -> list[str]:
    command = ["tesseract", "stdin", "stdout", "--psm", "11"]
    result = subprocess.run(command, input=png_bytes(image), capture_output=True, timeout=60)
    return result.stdout.decode().split()


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract binary")
def test_clean_renders_are_readable_and_substituted_ones_are_not() -> None:
    for prompt in (TYPOGRAPHY, LOGO, SUITE.stratum("dense-layouts").prompts[0]):
        assert prompt.expected_text is not None
        clean_image = render(prompt.prompt, prompt.seeds[0], 512, 512)
        words = ocr_words(clean_image)
        assert set(prompt.expected_text.split()) <= set(words), (prompt.id, words)
        broken = render(prompt.prompt, prompt.seeds[0], 512, 512, Knobs(substitution_rate=1.0))
        words = ocr_words(broken)
        assert not set(prompt.expected_text.split()) <= set(words), (prompt.id, words)
