"""Client for model servers that implement the OpenAI Images API.

The operator samples a primary and a canary model through this client. A bad response is a
failed sample for that arm, never an exception: `ImagesClient.generate` turns HTTP errors,
timeouts, broken payloads, oversized bodies and decompression bombs into a `Generation` with
`image=None` and a short `error`.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import io
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import urllib3
from PIL import Image, UnidentifiedImageError
from urllib3 import exceptions as urllib3_errors
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError

GENERATIONS_PATH = "/v1/images/generations"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_PIXELS = 4096 * 4096
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
_CHUNK_BYTES = 64 * 1024
_ERROR_BODY_BYTES = 4096
_HOST = re.compile(r"^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$")


@dataclass(frozen=True)
class Generation:
    image: Image.Image | None
    latency_s: float  # request sent -> body received (decoding is not the model's latency)
    error: str | None
    cost: float | None  # from the cost header when the server sends one


class SampleError(Exception):
    """A bad response; its message becomes `Generation.error`."""


class ImagesClient:
    """POST {base_url}/v1/images/generations, one image per call, as base64 JSON.

    Redirects are not followed, so an allowlisted URL cannot bounce the operator elsewhere.
    `timeout_s` bounds connecting and each read, and the whole body download is checked
    against the same deadline, so a server that drips bytes still times out.
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 30,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        cost_header: str = "x-image-cost",
        *,
        model: str | None = None,
        parameters: Mapping[str, object] | None = None,
    ) -> None:
        if timeout_s <= 0 or max_bytes <= 0 or max_pixels <= 0:
            raise ValueError("timeout_s, max_bytes and max_pixels must be positive")
        self.url = base_url.rstrip("/") + GENERATIONS_PATH
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.cost_header = cost_header
        self.model = model
        self.parameters = dict(parameters or {})  # extra request fields (guidance_scale, ...)
        self._http = urllib3.PoolManager(num_pools=4, maxsize=8, retries=False)

    def generate(self, prompt: str, seed: int, size: str = "512x512") -> Generation:
        """One image for (prompt, seed). Never raises for a bad response."""
        started = time.monotonic()
        latency: float | None = None
        cost: float | None = None
        try:
            status, headers, body = self._post(self._payload(prompt, seed, size), started)
            latency = time.monotonic() - started
            cost = parse_cost(headers.get(self.cost_header))
            if status != 200:
                raise SampleError(_http_error(status, body))
            image = decode_image(extract_b64(body), self.max_pixels)
        except SampleError as err:
            return _failed(str(err), started, latency, cost)
        except Exception as err:  # last line of defence: a sample failure, never an operator crash
            return _failed(f"client error: {err!r}"[:200], started, latency, cost)
        return Generation(image, latency, None, cost)

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> ImagesClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _payload(self, prompt: str, seed: int, size: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            **self.parameters,
            "prompt": prompt,
            "n": 1,
            "size": size,
            "response_format": "b64_json",
            "seed": seed,
        }
        if self.model is not None:
            payload["model"] = self.model
        return payload

    def _post(
        self, payload: Mapping[str, Any], started: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        deadline = started + self.timeout_s
        try:
            response = self._http.request(
                "POST",
                self.url,
                body=json.dumps(payload).encode(),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=urllib3.Timeout(total=self.timeout_s),
                preload_content=False,
                decode_content=False,
                redirect=False,
                retries=False,
            )
        except (
            NewConnectionError
        ) as err:  # before urllib3_errors.TimeoutError: it is a subclass of it
            raise SampleError(f"connection failed: {_reason(err)}") from None
        except urllib3_errors.TimeoutError:
            raise SampleError("timeout") from None
        except (ProtocolError, HTTPError, OSError) as err:
            raise SampleError(f"connection error: {_reason(err)}") from None
        limit = self.max_bytes if response.status == 200 else _ERROR_BODY_BYTES
        body = _read_capped(response, limit, deadline, strict=response.status == 200)
        return response.status, response.headers, body


def _failed(error: str, started: float, latency: float | None, cost: float | None) -> Generation:
    elapsed = latency if latency is not None else time.monotonic() - started
    return Generation(None, elapsed, error, cost)


def _read_capped(
    response: urllib3.BaseHTTPResponse, limit: int, deadline: float, strict: bool
) -> bytes:
    """The body, at most `limit` bytes, before `deadline`; `strict` makes a longer body an error."""
    complete = False
    try:
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        # Compressed bodies would escape the byte cap (gzip bombs); servers send PNG in JSON plain.
        if encoding != "identity":
            raise SampleError(f"unsupported content-encoding {encoding}")
        declared = response.headers.get("Content-Length")
        if strict and declared is not None and declared.isdigit() and int(declared) > limit:
            raise SampleError(f"response too large: {declared} bytes")
        chunks: list[bytes] = []
        received = 0
        # read1 returns whatever one recv gives, so the deadline is checked while bytes drip in.
        while chunk := response.read1(_CHUNK_BYTES, decode_content=False):
            received += len(chunk)
            if received > limit:
                if strict:
                    raise SampleError(f"response too large: over {limit} bytes")
                chunks.append(chunk[: limit - (received - len(chunk))])
                break
            if time.monotonic() > deadline:
                raise SampleError("timeout")
            chunks.append(chunk)
        else:
            complete = True
        return b"".join(chunks)
    except urllib3_errors.TimeoutError:
        raise SampleError("timeout") from None
    except (ProtocolError, HTTPError, OSError) as err:
        raise SampleError(f"connection broken: {_reason(err)}") from None
    finally:
        if not complete:
            response.close()  # an unread body leaves the connection unusable
        response.release_conn()


def _http_error(status: int, body: bytes) -> str:
    detail = ""
    try:
        parsed = json.loads(body)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        detail = str(message) if message else ""
    except (ValueError, RecursionError):
        pass
    return f"http {status}: {detail[:120]}" if detail else f"http {status}"


def extract_b64(body: bytes) -> bytes:
    """The decoded bytes of data[0].b64_json in an Images API response body."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise SampleError("response is not JSON") from None
    data = parsed.get("data") if isinstance(parsed, dict) else None
    first = data[0] if isinstance(data, list) and data else None
    encoded = first.get("b64_json") if isinstance(first, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise SampleError("response has no data[0].b64_json")
    try:
        # Some servers wrap base64 lines; anything else outside the alphabet is an error.
        return base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SampleError("invalid base64 in data[0].b64_json") from None


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """An RGB image, refusing non-images and images over `max_pixels` before decoding them."""
    try:
        # open() reads only the header, so the size check below costs no decoding.
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise SampleError(f"image too large: {width}x{height}")
            image.load()
            return image.convert("RGB")
    except Image.DecompressionBombError:
        raise SampleError("decompression bomb") from None
    except UnidentifiedImageError:
        raise SampleError("payload is not an image") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as err:
        raise SampleError(f"corrupt image: {_reason(err)}") from None


def parse_cost(value: str | None) -> float | None:
    """A non-negative finite number from the cost header, else None."""
    if value is None:
        return None
    try:
        cost = float(value)
    except ValueError:
        return None
    return cost if math.isfinite(cost) and cost >= 0 else None


def _reason(err: BaseException) -> str:
    return (str(err) or type(err).__name__)[:120]


def check_allowed(url: str, allowlist: Sequence[str]) -> None:
    """Raise ValueError unless the URL's origin matches an allowlist pattern.

    Patterns are fnmatch globs over the normalised origin `scheme://host:port`, for example
    `http://127.0.0.1:*` or `http://*.svc.cluster.local:8080`. The port is always explicit
    (80 and 443 are filled in), and URLs with credentials or odd host names are refused, so a
    pattern cannot be satisfied by a look-alike such as `http://127.0.0.1:80@evil.example`.
    """
    origin = normalized_origin(url)
    if not allowlist:
        raise ValueError(f"endpoint {url!r} is not allowed: the endpoint allowlist is empty")
    if not any(fnmatch.fnmatchcase(origin, pattern.lower()) for pattern in allowlist):
        patterns = ", ".join(allowlist)
        raise ValueError(f"endpoint {origin} is not in the endpoint allowlist ({patterns})")


def normalized_origin(url: str) -> str:
    """`scheme://host:port` of an http(s) URL, lower-case; ValueError if it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"endpoint {url!r} must be an http or https URL")
    if "@" in parts.netloc:
        raise ValueError(f"endpoint {url!r} must not carry credentials")
    host = (parts.hostname or "").lower()
    if not _HOST.match(host if ":" not in host else f"[{host}]"):
        raise ValueError(f"endpoint {url!r} has an invalid host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"endpoint {url!r} has an invalid port") from None
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}:{port}"
