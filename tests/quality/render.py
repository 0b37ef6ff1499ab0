"""Render text scenes like a demo model server would: reusable by tests and benchmarks.

A scene is a coloured background, a few shapes away from the text, and the text in a
TrueType font (DejaVu Sans Bold when installed, else Pillow's bundled default font).
Everything is deterministic for a given text and seed.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSans.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
)

# Share of scenes with light text on a dark background.
DARK_SHARE = 0.25

# Busy scenes: grey levels of Gaussian noise, degrees of rotation either way.
NOISE_SIGMA = 5
MAX_ROTATION = 3

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Box = tuple[int, int, int, int]
Colour = tuple[int, int, int]

# Texts like the suite's strata: short words, sentences, prices, mixed case, logos, layouts.
SAMPLE_TEXTS = (
    "OPEN",
    "SALE",
    "OPEN 24 HOURS",
    "FRESH COFFEE",
    "Hello World",
    "NO PARKING",
    "EXIT",
    "Welcome Home",
    "$4.99",
    "ONLY $19.99 TODAY",
    "Total 42.50",
    "Room 1204",
    "MacBook Pro",
    "iPhone Case",
    "The Quick Brown Fox",
    "Happy Birthday Anna",
    "ACME Rockets",
    "Blue Whale Surf Co",
    "Pixel Bakery",
    "NORTHWIND",
    "Grand Opening",
    "Summer Festival 2025",
    "Fresh bread baked every morning",
    "Please keep the door closed",
    "Latte 3.50 Muffin 2.25",
    "Subtotal 18.40 Tax 1.47",
    "Sign In",
    "Download Now",
    "Mountain View Cafe",
    "Green Valley Farm",
    "BIG SUMMER SALE 50% OFF",
    "Library Quiet Zone",
)


def load_font(size: int, name: str = FONT_FILES[0]) -> Font:
    """A DejaVu font at `size` px, or Pillow's bundled TrueType font when DejaVu is missing."""
    path = FONT_DIR / name
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def render_scene(
    text: str, seed: int, size: int = 512, shapes: int = 4, busy: bool = False
) -> Image.Image:
    """`text` centred on a coloured background with a few shapes kept clear of it.

    `busy` makes a harder scene: mixed fonts, a gradient, shapes behind the text,
    a slight rotation and sensor noise.
    """
    rng = random.Random(f"{text}|{seed}|{busy}")
    dark = rng.random() < DARK_SHARE
    background, ink = (_deep(rng), _light(rng)) if dark else (_pastel(rng), _ink(rng))
    second = _deep(rng) if dark else _pastel(rng)  # same tone family keeps the contrast
    image = (
        _gradient(size, background, second) if busy else Image.new("RGB", (size, size), background)
    )
    draw = ImageDraw.Draw(image)
    font_name = rng.choice(FONT_FILES) if busy else FONT_FILES[0]
    font, lines = _fit_text(draw, text, size, font_name)
    text_box = _text_box(draw, font, lines, size)
    for _ in range(shapes + 2 * busy):
        _draw_shape(draw, rng, size, None if busy else text_box, _tone(rng, dark, busy))
    _draw_lines(draw, font, lines, text_box, ink)
    return _roughen(image, rng, background) if busy else image


def blank(size: int = 512, colour: Colour = (255, 255, 255)) -> Image.Image:
    """A uniform image with no text at all."""
    return Image.new("RGB", (size, size), colour)


def garble(text: str, rate: float, seed: int) -> str:
    """Substitute letters and digits with probability `rate` (at least one substitution)."""
    rng = random.Random(f"garble|{text}|{seed}")
    chars = list(text)
    positions = [i for i, ch in enumerate(chars) if ch.isalnum()]
    if not positions:
        return text
    chosen = [i for i in positions if rng.random() < rate] or [rng.choice(positions)]
    for i in chosen:
        chars[i] = _substitute(chars[i], rng)
    return "".join(chars)


def to_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _substitute(char: str, rng: random.Random) -> str:
    pool = "0123456789" if char.isdigit() else "ABCDEFGHJKLMNPQRSTUVWXYZ"
    choices = [c for c in pool if c.casefold() != char.casefold()]
    replacement = rng.choice(choices)
    return replacement.lower() if char.islower() else replacement


def _pastel(rng: random.Random) -> Colour:
    return (rng.randint(170, 255), rng.randint(170, 255), rng.randint(170, 255))


def _ink(rng: random.Random) -> Colour:
    return (rng.randint(0, 70), rng.randint(0, 70), rng.randint(0, 70))


def _deep(rng: random.Random) -> Colour:
    return (rng.randint(10, 90), rng.randint(10, 90), rng.randint(10, 90))


def _light(rng: random.Random) -> Colour:
    return (rng.randint(215, 255), rng.randint(215, 255), rng.randint(215, 255))


def _fit_text(
    draw: ImageDraw.ImageDraw, text: str, size: int, font_name: str
) -> tuple[Font, list[str]]:
    """The largest font (and line wrapping) that fits the text in 80% of the width."""
    for font_size in range(size // 8, 11, -2):
        font = load_font(font_size, font_name)
        lines = _wrap(draw, font, text, int(size * 0.8))
        if lines and len(lines) * font_size * 1.3 <= size * 0.5:
            return font, lines
    font = load_font(12, font_name)
    return font, _wrap(draw, font, text, int(size * 0.9))


def _wrap(draw: ImageDraw.ImageDraw, font: Font, text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=font) <= width:
            lines[-1] = candidate
        elif draw.textlength(word, font=font) <= width:
            lines.append(word)
        else:
            return []
    return lines


def _line_height(font: Font) -> int:
    ascent, descent = font.getmetrics() if isinstance(font, ImageFont.FreeTypeFont) else (11, 0)
    return int((ascent + descent) * 1.15)


def _text_box(draw: ImageDraw.ImageDraw, font: Font, lines: list[str], size: int) -> Box:
    width = int(max(draw.textlength(line, font=font) for line in lines))
    height = _line_height(font) * len(lines)
    left, top = (size - width) // 2, (size - height) // 2
    return (left, top, left + width, top + height)


def _draw_lines(
    draw: ImageDraw.ImageDraw, font: Font, lines: list[str], box: Box, ink: Colour
) -> None:
    centre = (box[0] + box[2]) // 2
    for row, line in enumerate(lines):
        y = box[1] + row * _line_height(font)
        draw.text((centre, y), line, fill=ink, font=font, anchor="ma")


def _draw_shape(
    draw: ImageDraw.ImageDraw, rng: random.Random, size: int, text_box: Box | None, colour: Colour
) -> None:
    """A filled ellipse or rectangle in a random colour, clear of `text_box` when given."""
    for _ in range(20):
        extent = rng.randint(size // 12, size // 5)
        x, y = rng.randint(0, size - extent), rng.randint(0, size - extent)
        box = (x, y, x + extent, y + extent)
        if text_box is None or not _overlaps(box, _grow(text_box, size // 32)):
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape(box, fill=colour, outline=(0, 0, 0), width=2)
            return


def _grow(box: Box, margin: int) -> Box:
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _tone(rng: random.Random, dark: bool, behind_text: bool) -> Colour:
    """Any colour for shapes clear of the text; the background's tone for shapes behind it."""
    low, high = ((10, 120) if dark else (130, 255)) if behind_text else (40, 255)
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def _gradient(size: int, top: Colour, bottom: Colour) -> Image.Image:
    ramp = np.linspace(0.0, 1.0, size)[:, None, None]
    rows = np.array(top, dtype=float) * (1 - ramp) + np.array(bottom, dtype=float) * ramp
    pixels = np.broadcast_to(rows, (size, size, 3)).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def _roughen(image: Image.Image, rng: random.Random, fill: Colour) -> Image.Image:
    """A slight rotation and Gaussian sensor noise."""
    rotated = image.rotate(
        rng.uniform(-MAX_ROTATION, MAX_ROTATION), resample=Image.Resampling.BICUBIC, fillcolor=fill
    )
    noise = np.random.default_rng(rng.getrandbits(32)).normal(
        0, NOISE_SIGMA, (image.height, image.width, 3)
    )
    pixels = np.clip(np.asarray(rotated, dtype=float) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="RGB")
