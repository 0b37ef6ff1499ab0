"""Perceptual metrics that work offline (no model weights).

No-reference metrics score one image: compare their distributions across arms.
Full-reference metrics compare the canary's image with the baseline's for the same
prompt and seed; they only make sense when near-identical output is expected
(quantization, scheduler or kernel changes of the same model).
"""

from __future__ import annotations

import math

import imagehash
import numpy as np
from numpy.typing import NDArray
from PIL import Image
from skimage.metrics import structural_similarity

FloatArray = NDArray[np.float64]

# Immerkaer's noise mask: the difference of two Laplacians, blind to edges of first order.
_NOISE_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)


def luminance(image: Image.Image) -> FloatArray:
    """Greyscale (ITU-R 601 luma) as float grey levels 0..255."""
    return np.asarray(image.convert("L"), dtype=np.float64)


def sharpness(image: Image.Image) -> float:
    """Variance of the 4-neighbour Laplacian of the greyscale image; higher is sharper."""
    grey = luminance(image)
    if min(grey.shape) < 3:
        return 0.0
    laplacian = (
        grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1]
    )
    return float(laplacian.var())


def brightness(image: Image.Image) -> float:
    """Mean luminance in 0..1."""
    return float(luminance(image).mean() / 255.0)


def exposure(image: Image.Image) -> float:
    """Distance of the mean luminance from mid-grey, 0..1: 0 balanced, 1 all black or white.

    Lower is better. Compare arms on it; a scene can be legitimately bright or dark.
    """
    return abs(brightness(image) - 0.5) * 2.0


def noise(image: Image.Image) -> float:
    """Standard deviation of Gaussian noise in grey levels (Immerkaer 1996); lower is cleaner."""
    grey = luminance(image)
    height, width = int(grey.shape[0]), int(grey.shape[1])
    if height < 3 or width < 3:
        return 0.0
    response = sum(
        _NOISE_MASK[dy, dx] * grey[dy : height - 2 + dy, dx : width - 2 + dx]
        for dy in range(3)
        for dx in range(3)
    )
    total = float(np.abs(response).sum())
    return math.sqrt(math.pi / 2.0) * total / (6.0 * (width - 2) * (height - 2))


def colorfulness(image: Image.Image) -> float:
    """Hasler and Suesstrunk (2003) colourfulness; 0 for grey images, about 100+ for vivid ones."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    spread = math.hypot(float(rg.std()), float(yb.std()))
    centre = math.hypot(float(rg.mean()), float(yb.mean()))
    return spread + 0.3 * centre


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Structural similarity of the greyscale images, -1..1 (1 identical).

    `b` is resized to `a`'s size when they differ.
    """
    grey_a = luminance(a)
    grey_b = luminance(_same_size(b, a))
    if min(grey_a.shape) < 7:  # the SSIM window is 7x7
        return 1.0 if np.array_equal(grey_a, grey_b) else 0.0
    score = structural_similarity(grey_a, grey_b, data_range=255.0)  # type: ignore[no-untyped-call]
    return float(score)


def phash_distance(a: Image.Image, b: Image.Image) -> int:
    """Hamming distance of the 64-bit perceptual hashes: 0 identical-looking, up to 64."""
    return int(imagehash.phash(a) - imagehash.phash(b))


def _same_size(image: Image.Image, like: Image.Image) -> Image.Image:
    if image.size == like.size:
        return image
    return image.resize(like.size, Image.Resampling.BILINEAR)
