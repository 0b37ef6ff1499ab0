"""A stand-in image model that speaks the OpenAI Images API, with knobs to make it worse.

    python -m imagerollout.demo.server --port 8080 --model-name v2 \\
        --substitution-rate 0.3 --drop-words 0.1 --blur 1.5 --latency-ms 50 \\
        --error-rate 0.05 --regress-stratum logos

It draws the text quoted in the prompt (`A sign that says "OPEN"`) in dark letters on a light
panel, with a coloured background and a few shapes kept clear of the text, so that OCR reads a
clean render almost perfectly. Prompts without quotes get a plain scene of shapes.

Knobs:
- image knobs: --substitution-rate (each letter or digit replaced by a visually different one),
  --drop-words (each word left out), --blur (Gaussian radius in pixels). With
  --regress-stratum NAME they apply only to prompts of that stratum of the suite (the default
  suite, or --suite FILE); other prompts render clean, so a regression stays confined.
- serving knobs, for every request: --latency-ms (added before replying), --error-rate (share of
  (prompt, seed) pairs that get HTTP 500), --image-cost (sent as the x-image-cost header).

Everything is deterministic for (prompt, seed, knobs): the same request gets the same bytes,
and a higher rate degrades a superset of what a lower rate degrades.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import colorsys
import functools
import hashlib
import io
import random
import re
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from imagerollout.demo.metrics import ServerMetrics
from imagerollout.quality.suite import Suite, default_suite, load_suite

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
MIN_SIDE, MAX_SIDE, MAX_N = 64, 2048, 4
_QUOTED = re.compile(r'"([^"]+)"')
_SIZE = re.compile(r"^(\d{2,4})x(\d{2,4})$")

# Characters that OCR, or a reader, could take for one another. A substitution never picks a
# character from the same group, so that the damage is really visible.
_CONFUSABLE = (
    "O0QDCGocUu",
    "Il1iLjJTt!|",
    "S5s$",
    "B83E",
    "Z2z7",
    "6Gb",
    "9gqP",
    "A4",
    "UVuvWwYy",
    "mnrh",
    "ceoa",
    "MNH",
    "KXkx",
    "PFR",
)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Knobs:
    """Image degradations; all zero renders the clean image."""

    substitution_rate: float = 0.0
    drop_words: float = 0.0
    blur: float = 0.0
    noise_seed: int = 0  # two servers with other noise seeds damage different letters (A/A)


@dataclass(frozen=True)
class ServerConfig:
    model_name: str = "demo"
    knobs: Knobs = Knobs()
    latency_ms: int = 0
    error_rate: float = 0.0
    image_cost: float | None = None
    regress_stratum: str | None = None
    stratum_of_prompt: Mapping[str, str] = field(default_factory=dict)
    variant: str = "baseline"
    error_reason: str = "server_error"

    def knobs_for(self, prompt: str) -> Knobs:
        """The image knobs that apply to this prompt (none outside the regressed stratum)."""
        if (
            self.regress_stratum is None
            or self.stratum_of_prompt.get(prompt) == self.regress_stratum
        ):
            return self.knobs
        return Knobs()


class BadRequestError(ValueError):
    pass


# ---------------------------------------------------------------- determinism


def _rng(*parts: object) -> random.Random:
    """A generator seeded from the parts, stable across runs and Python versions."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def fails(prompt: str, seed: int, error_rate: float) -> bool:
    return _rng("error", prompt, seed).random() < error_rate


# ---------------------------------------------------------------- text degradation


def quoted_text(prompt: str) -> str | None:
    """The text the prompt asks to render: everything between double quotes."""
    parts = _QUOTED.findall(prompt)
    return " ".join(parts) if parts else None


def degrade_text(text: str, knobs: Knobs, rng: random.Random) -> str:
    """Drop words, then substitute characters, drawing a fixed amount of randomness per item.

    Drawing the same numbers whatever the rates makes the result monotone in the rates.
    """
    kept = [word for word in text.split() if rng.random() >= knobs.drop_words]
    return " ".join(
        "".join(_substitute(ch, knobs.substitution_rate, rng) for ch in w) for w in kept
    )


def _substitute(ch: str, rate: float, rng: random.Random) -> str:
    draw, pick = rng.random(), rng.random()
    pool = _UPPER if ch in _UPPER else _LOWER if ch in _LOWER else _DIGITS if ch in _DIGITS else ""
    if not pool or draw >= rate:
        return ch
    candidates = [c for c in pool if c not in look_alikes(ch)]
    return candidates[int(pick * len(candidates))]


@functools.cache
def look_alikes(ch: str) -> frozenset[str]:
    similar = {ch, ch.lower(), ch.upper()}
    for group in _CONFUSABLE:
        if ch in group:
            similar.update(group)
    return frozenset(similar)


# ---------------------------------------------------------------- rendering


@functools.lru_cache(maxsize=64)
def _font(size: int) -> Font:
    try:
        return ImageFont.truetype(str(FONT_FILE), size)
    except OSError:  # no DejaVu on this machine: Pillow's bundled font scales too
        return ImageFont.load_default(size=size)


def _pastel(rng: random.Random, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(rng.random(), saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _shapes(
    draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int], count: int
) -> None:
    left, top, right, bottom = box
    for _ in range(count):
        w = rng.randint(max(4, (right - left) // 12), max(5, (right - left) // 4))
        h = rng.randint(max(4, (bottom - top) // 4), max(5, bottom - top))
        x = rng.randint(left, max(left, right - w))
        y = rng.randint(top, max(top, bottom - h))
        colour = _pastel(rng, rng.uniform(0.4, 0.8), rng.uniform(0.45, 0.85))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        else:
            draw.rectangle((x, y, x + w, y + h), fill=colour)


def _texture(draw: ImageDraw.ImageDraw, rng: random.Random, box: tuple[int, int, int, int]) -> None:
    """A fine dot grid: detail that sharpness metrics see and blur removes, but OCR ignores."""
    left, top, right, bottom = box
    colour = _pastel(rng, 0.5, 0.45)
    step = rng.randint(3, 4)
    for y in range(top + step // 2, bottom, step):
        for x in range(left + (y // step) % 2, right, step):
            draw.point((x, y), fill=colour)


def _wrap(text: str, font: Font, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _fit(text: str, width: int, height: int) -> tuple[Font, list[str], int]:
    """The largest font (within bounds readable by OCR) at which the wrapped text fits."""
    largest, smallest = max(12, min(height // 3, width // 7)), max(10, height // 10)
    for size in range(largest, smallest - 1, -2):
        font = _font(size)
        lines = _wrap(text, font, width)
        line_height = round(size * 1.25)
        if len(lines) * line_height <= height and all(font.getlength(li) <= width for li in lines):
            return font, lines, line_height
    font = _font(smallest)
    return font, _wrap(text, font, width), round(smallest * 1.25)


def _draw_text(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    clean: str,
    shown: str,
    area: tuple[int, int, int, int],
) -> None:
    """The (possibly degraded) text, centred in the area, straight on the light background.

    Layout comes from the clean text, so degrading the text changes the letters, not the scene.
    No panel behind the text: a light panel on a light background made Tesseract's global
    threshold turn the background black and lose the text inside the panel.
    """
    left, top, right, bottom = area
    ink = rng.choice([(20, 20, 20), (25, 30, 70), (90, 15, 20), (15, 60, 30)])
    font, lines, line_height = _fit(clean, right - left, bottom - top)
    y = top + (bottom - top - len(lines) * line_height) // 2
    for line in _wrap(shown, font, right - left):
        x = left + (right - left - round(font.getlength(line))) // 2
        draw.text((x, y), line, font=font, fill=ink)
        y += line_height


def render(prompt: str, seed: int, width: int, height: int, knobs: Knobs = Knobs()) -> Image.Image:
    """The image for (prompt, seed): text scene if the prompt quotes text, else shapes."""
    rng = _rng("scene", prompt, seed)
    background = _pastel(rng, rng.uniform(0.1, 0.3), rng.uniform(0.88, 0.97))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    top_band, bottom_band = round(height * 0.2), round(height * 0.8)
    text = quoted_text(prompt)
    if text is None:
        _texture(draw, rng, (0, bottom_band, width, height))
        _shapes(draw, rng, (0, 0, width, height), rng.randint(4, 8))
    else:
        _shapes(draw, rng, (0, 0, width, top_band - 8), rng.randint(2, 4))
        _texture(draw, rng, (0, bottom_band + 8, width, height))
        margin = max(16, width // 12)
        area = (margin, top_band + margin // 2, width - margin, bottom_band - margin // 2)
        shown = degrade_text(text, knobs, _rng("degrade", prompt, seed, knobs.noise_seed))
        _draw_text(draw, rng, text, shown, area)
    if knobs.blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(knobs.blur))
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


# ---------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    n: int
    width: int
    height: int
    seed: int


def parse_request(body: Any) -> ImageRequest:
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > 4000:
        raise BadRequestError("prompt must be a non-empty string of at most 4000 characters")
    n = body.get("n", 1)
    if not _is_int(n) or not 1 <= n <= MAX_N:
        raise BadRequestError(f"n must be an integer from 1 to {MAX_N}")
    seed = body.get("seed", 0)
    if not _is_int(seed) or not 0 <= seed < 2**32:
        raise BadRequestError("seed must be an integer from 0 to 2^32-1")
    if body.get("response_format", "b64_json") != "b64_json":
        raise BadRequestError("only response_format b64_json is supported")
    width, height = _parse_size(body.get("size", "512x512"))
    return ImageRequest(prompt=prompt, n=n, width=width, height=height, seed=seed)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_size(size: object) -> tuple[int, int]:
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None:
        raise BadRequestError("size must look like 512x512")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise BadRequestError(f"size sides must be from {MIN_SIDE} to {MAX_SIDE}")
    return width, height


def _error(status: int, message: str, kind: str) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": kind, "code": status}}, status=status
    )


def _render_b64(request: ImageRequest, knobs: Knobs) -> list[str]:
    # Image i of a batch uses seed + i, as batch generation with consecutive seeds does.
    return [
        base64.b64encode(
            png_bytes(
                render(request.prompt, request.seed + i, request.width, request.height, knobs)
            )
        ).decode()
        for i in range(request.n)
    ]


def build_app(config: ServerConfig) -> web.Application:
    metrics = ServerMetrics(
        config.model_name,
        config.variant,
        error_reasons=(config.error_reason,),
        reports_cost=config.image_cost is not None,
    )

    async def generations(http_request: web.Request) -> web.Response:
        started = time.monotonic()
        response, images = await _generate(http_request)
        reason = config.error_reason if response.status >= 500 else None
        cost = images * config.image_cost if config.image_cost is not None else 0.0
        metrics.observe(response.status, time.monotonic() - started, images, reason, cost=cost)
        return response

    async def _generate(http_request: web.Request) -> tuple[web.Response, int]:
        """The response, and how many images it carries."""
        try:
            image_request = parse_request(await http_request.json())
        except ValueError as err:  # BadRequestError, or a body that is not JSON
            message = str(err) if isinstance(err, BadRequestError) else "body is not JSON"
            return _error(400, message, "invalid_request_error"), 0
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000)
        if fails(image_request.prompt, image_request.seed, config.error_rate):
            return _error(500, f"injected failure: {config.error_reason}", "server_error"), 0
        knobs = config.knobs_for(image_request.prompt)
        # Rendering is CPU work: keep it off the event loop so requests overlap.
        images = await asyncio.get_running_loop().run_in_executor(
            None, _render_b64, image_request, knobs
        )
        headers = {"x-model-name": config.model_name}
        if config.image_cost is not None:
            headers["x-image-cost"] = repr(config.image_cost)
        payload = {
            "created": int(time.time()),
            "model": config.model_name,
            "data": [{"b64_json": b} for b in images],
        }
        return web.json_response(payload, headers=headers), len(images)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "model": config.model_name})

    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain")

    app = web.Application()
    app.router.add_post("/v1/images/generations", generations)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    return app


# ---------------------------------------------------------------- command line


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m imagerollout.demo.server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (printed)")
    parser.add_argument(
        "--model-name", default="demo", help="reported in responses and x-model-name"
    )
    parser.add_argument(
        "--substitution-rate", type=_rate, default=0.0, help="share of letters/digits replaced"
    )
    parser.add_argument("--drop-words", type=_rate, default=0.0, help="share of words left out")
    parser.add_argument(
        "--blur", type=_non_negative, default=0.0, help="Gaussian blur radius in pixels"
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every reply")
    parser.add_argument(
        "--error-rate",
        type=_rate,
        default=0.0,
        help="share of (prompt, seed) pairs answered with HTTP 500",
    )
    parser.add_argument(
        "--image-cost", type=_non_negative, default=None, help="value of the x-image-cost header"
    )
    parser.add_argument(
        "--variant", default="baseline", help="the variant label of /metrics (baseline, canary)"
    )
    parser.add_argument(
        "--error-reason",
        default="server_error",
        help="reason label of injected errors, e.g. decoder_failure:text_artifact_misalignment",
    )
    parser.add_argument(
        "--noise-seed", type=int, default=0, help="decorrelates the damage of equal-knob servers"
    )
    parser.add_argument(
        "--regress-stratum", default=None, help="apply image knobs only to this stratum's prompts"
    )
    parser.add_argument(
        "--suite", type=Path, default=None, help="suite YAML mapping prompts to strata"
    )
    return parser


def config_from_args(argv: Sequence[str] | None = None) -> tuple[ServerConfig, str, int]:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.latency_ms < 0 or not 0 <= args.port <= 65535:
        parser.error("--latency-ms must be >= 0 and --port from 0 to 65535")
    try:
        suite: Suite = load_suite(args.suite.read_text()) if args.suite else default_suite()
    except (OSError, ValueError) as err:
        parser.error(f"--suite: {err}")
    names = [s.name for s in suite.strata]
    if args.regress_stratum is not None and args.regress_stratum not in names:
        parser.error(
            f"--regress-stratum {args.regress_stratum!r} is not in the suite ({', '.join(names)})"
        )
    config = ServerConfig(
        model_name=args.model_name,
        knobs=Knobs(args.substitution_rate, args.drop_words, args.blur, args.noise_seed),
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        image_cost=args.image_cost,
        regress_stratum=args.regress_stratum,
        stratum_of_prompt=suite.stratum_of_prompt(),
        variant=args.variant,
        error_reason=args.error_reason,
    )
    return config, args.host, args.port


async def serve(config: ServerConfig, host: str, port: int) -> None:
    runner = web.AppRunner(build_app(config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    # Tests and scripts read this line to learn the port when --port 0 was given.
    print(
        f"demo server listening on http://{bound_host}:{bound_port} model={config.model_name}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    config, host, port = config_from_args(argv)
    try:
        asyncio.run(serve(config, host, port))
    except OSError as err:  # port taken, address not available
        print(f"demo server: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
