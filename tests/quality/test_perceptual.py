"""Offline perceptual metrics on rendered scenes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from imagerollout.quality.perceptual import (
    brightness,
    colorfulness,
    exposure,
    noise,
    phash_distance,
    sharpness,
    ssim,
)
from tests.quality.render import blank, render_scene


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return render_scene("OPEN 24 HOURS", seed=1)


@pytest.fixture(scope="module")
def other() -> Image.Image:
    return render_scene("Velo Works", seed=7)


def grey_with_noise(sigma: float, size: int = 256) -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = np.clip(128 + rng.normal(0, sigma, (size, size)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, mode="L")


def test_blur_lowers_sharpness_by_a_large_factor(scene: Image.Image) -> None:
    blurred = scene.filter(ImageFilter.GaussianBlur(1.5))
    assert sharpness(scene) > 10 * sharpness(blurred)


def test_a_flat_image_has_no_sharpness_or_noise() -> None:
    assert sharpness(blank()) == 0.0
    assert noise(blank()) == 0.0


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_noise_estimates_the_added_standard_deviation(sigma: float) -> None:
    assert noise(grey_with_noise(sigma)) == pytest.approx(sigma, rel=0.1)


def test_noise_ignores_clean_edges(scene: Image.Image) -> None:
    assert noise(scene) < 1.0


@pytest.mark.parametrize(
    ("colour", "expected_brightness", "expected_exposure"),
    [((0, 0, 0), 0.0, 1.0), ((255, 255, 255), 1.0, 1.0), ((128, 128, 128), 0.5, 0.0)],
)
def test_exposure_is_the_distance_from_mid_grey(
    colour: tuple[int, int, int], expected_brightness: float, expected_exposure: float
) -> None:
    image = blank(32, colour)
    assert brightness(image) == pytest.approx(expected_brightness, abs=0.01)
    assert exposure(image) == pytest.approx(expected_exposure, abs=0.01)


def test_colorfulness_is_zero_for_grey_and_high_for_vivid(scene: Image.Image) -> None:
    assert colorfulness(scene.convert("L")) == pytest.approx(0.0, abs=1e-9)
    vivid = Image.new("RGB", (64, 64), (255, 0, 0))
    vivid.paste((0, 0, 255), (0, 0, 32, 64))
    assert colorfulness(vivid) > colorfulness(scene) > 0.0


def test_ssim_is_one_for_the_same_image_and_lower_for_another(
    scene: Image.Image, other: Image.Image
) -> None:
    assert ssim(scene, scene.copy()) == pytest.approx(1.0)
    blurred = scene.filter(ImageFilter.GaussianBlur(1.5))
    assert ssim(scene, other) < ssim(scene, blurred) < 1.0


def test_ssim_resizes_the_second_image(scene: Image.Image) -> None:
    assert ssim(scene, scene.resize((256, 256))) > 0.8


def test_ssim_on_tiny_images() -> None:
    assert ssim(blank(4), blank(4)) == 1.0
    assert ssim(blank(4), blank(4, (0, 0, 0))) == 0.0


def test_phash_distance(scene: Image.Image, other: Image.Image) -> None:
    assert phash_distance(scene, scene.copy()) == 0
    assert phash_distance(scene, other) >= 10
