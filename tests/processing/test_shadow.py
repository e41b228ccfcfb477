"""The drop shadow alone: where `cast` puts it, how soft and dark it is, and `under`'s compositing maths."""

from __future__ import annotations

import numpy as np
import pytest

from bgremover.processing import shadow
from bgremover.processing.shadow import ShadowParams


def square(height: int = 300, width: int = 400, side: int = 100) -> np.ndarray:
    alpha = np.zeros((height, width), np.float32)
    top, left = (height - side) // 2, (width - side) // 2
    alpha[top : top + side, left : left + side] = 1.0
    return alpha


def centroid(weights: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]]
    total = weights.sum(dtype=np.float64)
    return float((ys * weights).sum() / total), float((xs * weights).sum() / total)


def test_the_shadow_falls_by_the_offset_and_is_as_dark_as_the_opacity():
    alpha = square()
    shade = shadow.cast(alpha)
    assert shade.shape == alpha.shape and shade.dtype == np.uint8
    (y0, x0), (y1, x1) = centroid(alpha), centroid(shade.astype(np.float64))
    side = max(alpha.shape)
    assert abs((x1 - x0) - shadow.PARAMS.offset_x * side) < 0.5
    assert abs((y1 - y0) - shadow.PARAMS.offset_y * side) < 0.5
    assert abs(int(shade.max()) - round(255 * shadow.PARAMS.opacity)) <= 1  # the core of a wide subject
    assert shade[:20].max() == 0 and shade[:, :30].max() == 0  # nothing far from the subject


def test_blur_softens_the_edge_and_no_blur_keeps_it_sharp():
    alpha = square()
    soft = shadow.cast(alpha, ShadowParams(offset_x=0, offset_y=0, blur=0.02, opacity=1.0))
    sharp = shadow.cast(alpha, ShadowParams(offset_x=0, offset_y=0, blur=0, opacity=1.0))
    assert np.array_equal(sharp, (alpha * 255).astype(np.uint8))
    row = soft[150, 140:160]  # across the square's left edge at x = 150
    assert 0 < row[0] < row[10] < row[-1] < 256 and len(np.unique(row)) > 10


def test_float_and_uint8_mattes_cast_the_same_shadow():
    alpha = square()
    assert np.abs(shadow.cast(alpha).astype(int) - shadow.cast((alpha * 255).astype(np.uint8)).astype(int)).max() <= 1


def test_big_images_are_cast_at_the_working_size_then_stretched():
    alpha = np.zeros((3000, 4000), np.uint8)
    alpha[1000:2000, 1500:2500] = 255
    shade = shadow.cast(alpha)
    small = shadow.cast(alpha[::4, ::4].copy())  # the same picture at a quarter the size (1000 px wide)
    assert shade.shape == alpha.shape
    (y0, x0), (y1, x1) = centroid(alpha.astype(np.float64)), centroid(shade.astype(np.float64))
    assert abs((x1 - x0) - 40) < 2 and abs((y1 - y0) - 80) < 2  # 1% and 2% of 4000
    assert np.abs(shade[::4, ::4].astype(int) - small.astype(int)).mean() < 1.5  # scale-free


def test_an_empty_matte_casts_nothing():
    assert not shadow.cast(np.zeros((50, 60), np.float32)).any()
    assert shadow.cast(np.zeros((0, 0), np.float32)).shape == (0, 0)


def over(fg: np.ndarray, fa: np.ndarray, bg: np.ndarray, ba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Porter-Duff "over" in straight alpha (floats): the reference the test composes with."""
    out_a = fa + ba * (1 - fa)
    rgb = (fg * fa[..., None] + bg * (ba * (1 - fa))[..., None]) / np.maximum(out_a, 1e-9)[..., None]
    return rgb, out_a


@pytest.mark.parametrize("kind", ["transparent", "opaque colour", "translucent colour", "image"])
def test_under_puts_the_shadow_between_the_subject_and_its_background(kind):
    rng = np.random.default_rng(7)
    height, width = 300, 40  # more rows than a band
    fg = rng.integers(0, 256, (height, width, 3)).astype(np.float64)
    a8 = rng.choice([0, 0, 255, 255, 1, 77, 200], (height, width)).astype(np.uint8)
    shade = rng.integers(0, 256, (height, width)).astype(np.uint8)
    a, s = a8 / 255.0, shade / 255.0
    if kind == "image":
        background: shadow.Background = rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
        bg, ba = background.astype(np.float64), np.ones((height, width))
    else:
        color = {
            "transparent": (0, 0, 0, 0),
            "opaque colour": (10, 200, 30, 255),
            "translucent colour": (250, 100, 5, 90),
        }
        rgba = color[kind]
        background = None if kind == "transparent" else rgba
        bg, ba = np.broadcast_to(np.array(rgba[:3], float), fg.shape), np.full((height, width), rgba[3] / 255.0)
    composed_rgb, composed_a = over(fg, a, bg, ba)  # what compose made
    channels = 3 if kind in ("opaque colour", "image") else 4
    pixels = np.empty((height, width, channels), np.uint8)
    pixels[..., :3] = np.clip(composed_rgb + 0.5, 0, 255)
    if channels == 4:
        pixels[..., 3] = np.clip(composed_a * 255 + 0.5, 0, 255)
    shadow.under(pixels, a8, shade, background)
    shaded_rgb, shaded_a = over(np.zeros_like(fg), s, bg, ba)
    want_rgb, want_a = over(fg, a, shaded_rgb, shaded_a)
    visible = want_a > 0.05  # where almost transparent, colours are rounded through tiny alphas
    assert np.abs(pixels[..., :3][visible].astype(float) - want_rgb[visible]).max() <= 2
    if channels == 4:
        assert np.abs(pixels[..., 3].astype(float) - want_a * 255).max() <= 1
    assert np.array_equal(pixels[a8 == 255][:, :3], np.clip(fg + 0.5, 0, 255).astype(np.uint8)[a8 == 255])
