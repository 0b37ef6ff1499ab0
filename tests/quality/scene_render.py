"""Renders that look more like model output than a document: scene text for the OCR bench.

Each scene draws one variation, chosen by the seed: text on a curve (a sign on a mug), a
strong rotation (a poster at an angle), a textured or photographic-noise background, low
contrast ink (embossing, neon in daylight) or small text (a price tag in a wide shot). Fonts
come from Debian packages: DejaVu (fonts-dejavu-core) and Liberation (fonts-liberation2).
Test and bench helper only; the runtime never renders.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = tuple(
    p
    for p in (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"),
        Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf"),
        Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"),
        Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
        Path("/usr/share/fonts/truetype/liberation2/LiberationMono-Bold.ttf"),
    )
    if p.is_file()
)
VARIATIONS = ("curved", "rotated", "textured", "low-contrast", "small")

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(rng: random.Random, size: int) -> Font:
    if not FONTS:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(rng.choice(FONTS)), size)


def _background(rng: random.Random, size: int, textured: bool) -> Image.Image:
    base = np.array([rng.randint(120, 235) for _ in range(3)], dtype=np.float64)
    gen = np.random.default_rng(rng.getrandbits(32))
    ys, xs = np.mgrid[0:size, 0:size] / size
    tilt = (ys * rng.uniform(-40, 40) + xs * rng.uniform(-40, 40))[..., None]
    pixels = base + tilt
    if textured:  # wood grain / fabric: stripes plus blotches
        stripes = 18 * np.sin(ys * rng.uniform(40, 90) + 3 * np.sin(xs * 7))[..., None]
        blotch = Image.fromarray(gen.integers(0, 255, (size // 16, size // 16), dtype=np.uint8))
        blotches = np.asarray(blotch.resize((size, size), Image.Resampling.BICUBIC), np.float64)
        pixels = pixels + stripes + (blotches[..., None] - 128) * 0.25
    pixels = pixels + gen.normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _ink(rng: random.Random, background: Image.Image, low_contrast: bool) -> tuple[int, int, int]:
    mean = np.asarray(background).reshape(-1, 3).mean(axis=0)
    if low_contrast:  # 35-55 grey levels from the background: embossed, faded, neon by day
        shift = rng.choice([-1, 1]) * rng.uniform(35, 55)
        red, green, blue = (int(np.clip(c + shift, 0, 255)) for c in mean)
        return red, green, blue
    grey = rng.randint(0, 50) if mean.mean() > 128 else rng.randint(215, 255)
    return grey, grey, grey


def _text_layer(text: str, font: Font, ink: tuple[int, int, int]) -> Image.Image:
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    layer = Image.new("RGBA", (int(right - left) + 16, int(bottom - top) + 16), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((8 - left, 8 - top), text, font=font, fill=(*ink, 255))
    return layer


def _curve(layer: Image.Image, rng: random.Random) -> Image.Image:
    """Bend the text along an arc: each column shifts by a parabola (a label on a mug)."""
    pixels = np.asarray(layer)
    height, width = pixels.shape[:2]
    bend = rng.uniform(0.12, 0.25) * height * max(1.0, width / height / 4)
    out = np.zeros((height + int(2 * bend) + 2, width, 4), dtype=np.uint8)
    sign = rng.choice([-1, 1])
    for x in range(width):
        offset = int(bend + sign * bend * (2 * x / max(width - 1, 1) - 1) ** 2)
        out[offset : offset + height, x] = pixels[:, x]
    return Image.fromarray(out)


def render_scene_text(text: str, seed: int, size: int = 512) -> tuple[Image.Image, str]:
    """One scene-like image of `text` and the variation drawn."""
    rng = random.Random(f"scene|{text}|{seed}")
    variation = VARIATIONS[seed % len(VARIATIONS)]
    image = _background(rng, size, textured=variation == "textured")
    small = variation == "small"
    font_size = rng.randint(16, 22) if small else rng.randint(38, 64)
    font = _font(rng, font_size)
    while font_size > 12 and ImageDraw.Draw(image).textlength(text, font=font) > 0.85 * size:
        font_size -= 4
        font = _font(random.Random(f"font|{seed}"), font_size)
    layer = _text_layer(text, font, _ink(rng, image, variation == "low-contrast"))
    if variation == "curved":
        layer = _curve(layer, rng)
    angle = (
        rng.uniform(12, 25) * rng.choice([-1, 1]) if variation == "rotated" else rng.uniform(-4, 4)
    )
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    x = rng.randint(0, max(0, size - layer.width))
    y = rng.randint(size // 8, max(size // 8, size - layer.height - size // 8))
    image.paste(layer, (x, y), layer)
    if rng.random() < 0.5:  # a little softness, as decoders leave it
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    return image, variation
