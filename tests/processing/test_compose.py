"""The compose stage alone, on synthetic mattes (every matte shape × every kind of background) and a real photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from bgremover.processing import compose as compose_module
from bgremover.processing.compose import FAINT_LEVELS, compose, edge_colors, round_faint_colours, to_uint8
from bgremover.processing.encode import encode
from tests.processing.synthetic import BACKGROUNDS, MATTES, PROPERTIES, colors, image_for, images, mattes

BG_KINDS = list(BACKGROUNDS.values())


@pytest.mark.parametrize("bg", BG_KINDS)
@pytest.mark.parametrize("level", [0.0, 1.0])
def test_a_matte_with_no_soft_pixel_composes_with_every_background(bg, level):
    # a flat matte has no edge pixels: this crashed with a translucent background (empty OpenCV array)
    rgb = np.full((30, 40, 3), 128, np.uint8)
    out = compose(rgb, np.full((30, 40), level, np.float32), bg)
    channels = 3 if bg is not None and bg[3] == 255 else 4
    assert out.shape == (30, 40, channels) and out.dtype == np.uint8
    if level == 1.0:
        assert (out[:, :, :3] == 128).all()
    elif bg is None or bg[3] == 0:
        assert (out == 0).all()  # fully transparent pixels carry no colour
    else:
        assert (out[:, :, :3] == bg[:3]).all()


def _expected_alpha(alpha: np.ndarray, bg: tuple[int, int, int, int] | None) -> np.ndarray:
    """The output alpha by Porter-Duff "over": the matte's alpha, plus the background's where the matte is clear."""
    bg_a = 0.0 if bg is None else bg[3] / 255
    return to_uint8(alpha + bg_a * (1.0 - alpha))


@pytest.mark.parametrize("bg_kind", BACKGROUNDS)
@pytest.mark.parametrize("matte", MATTES)
def test_every_matte_with_every_background(matte, bg_kind):
    alpha, bg = MATTES[matte](), BACKGROUNDS[bg_kind]
    rgb = image_for(alpha)
    out = compose(rgb, alpha, bg)
    opaque_bg = bg is not None and bg[3] == 255
    assert out.shape == (*alpha.shape, 3 if opaque_bg else 4) and out.dtype == np.uint8
    solid = alpha == 1.0
    assert (out[solid][:, :3] == rgb[solid]).all()  # the subject's own pixels are untouched
    if opaque_bg:
        clear = alpha == 0.0
        assert (out[clear] == bg[:3]).all()
        return
    assert np.array_equal(out[:, :, 3], _expected_alpha(alpha, bg))
    assert (out[out[:, :, 3] == 0] == 0).all()  # fully transparent pixels are zeroed


@pytest.mark.parametrize("matte", MATTES)
def test_a_fully_transparent_background_is_the_same_as_none(matte):
    alpha = MATTES[matte]()
    rgb = image_for(alpha, seed=1)
    assert np.array_equal(compose(rgb, alpha, BACKGROUNDS["transparent"]), compose(rgb, alpha, None))


def test_translucent_background_is_porter_duff_over():
    alpha = np.full((8, 8), 0.25, np.float32)
    rgb = np.full((8, 8, 3), 200, np.uint8)
    out = compose(rgb, alpha, (0, 0, 100, 128))
    bg_a = 128 / 255
    out_a = 0.25 + bg_a * 0.75
    expected = [(200 * 0.25 + c * bg_a * 0.75) / out_a for c in (0, 0, 100)]
    assert np.allclose(out[:, :, :3], expected, atol=0.51)  # no opaque core: the image's own colour is used
    assert (out[:, :, 3] == round(out_a * 255)).all()


def test_soft_pixels_take_the_subjects_colour_not_the_background_s():
    # red subject on the left, black background on the right, a soft band in between
    alpha = np.zeros((40, 60), np.float32)
    alpha[:, :25] = 1.0
    alpha[:, 25:35] = np.linspace(0.9, 0.1, 10, dtype=np.float32)
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (220, 30, 30)  # the band's right half shows the background's black
    for bg in (None, (255, 255, 255, 255)):
        out = compose(rgb, alpha, bg)
        if bg is None:
            band = out[:, 25:35, :3].reshape(-1, 3)
            assert (band == (220, 30, 30)).all()  # no dark fringe from the black background
        else:
            # over white the band fades from red to white, never towards black
            assert (out[:, 25:35].min(axis=(0, 1)) >= (220, 30, 30)).all()


def test_soft_edge_with_no_opaque_core_keeps_the_images_colours():
    alpha = MATTES["soft_edge"]()
    rgb = image_for(alpha, seed=2)
    ys, xs, colors = edge_colors(rgb, to_uint8(alpha))
    assert ys.size == xs.size == colors.shape[0] == 0  # no core to take colours from
    out = compose(rgb, alpha, None)
    assert np.array_equal(out[:, :, :3], rgb)


def test_to_uint8_rounds_and_handles_empty_arrays():
    assert to_uint8(np.array([[0.0, 0.5, 1.0, 0.999]], np.float32)).tolist() == [[0, 128, 255, 255]]
    empty = to_uint8(np.empty((0, 1), np.float32))
    assert empty.shape == (0, 1) and empty.dtype == np.uint8


def test_bands_and_downscaled_colour_sums_give_the_same_result(monkeypatch):
    # a photo taller than BAND_ROWS and wider than COLOR_SIDE: the banded, downscaled path
    alpha = np.zeros((300, 1100), np.float32)
    alpha[40:260, 100:1000] = 1.0
    alpha[40:260, 1000:1010] = np.linspace(0.95, 0.05, 10, dtype=np.float32)
    rgb = np.zeros((300, 1100, 3), np.uint8)
    rgb[:, :1005] = (200, 60, 20)  # a flat subject: its colour is the same at any scale
    bg = (10, 200, 10, 128)
    banded = compose(rgb, alpha, bg)
    monkeypatch.setattr(compose_module, "BAND_ROWS", 10_000)
    assert np.array_equal(compose(rgb, alpha, bg), banded)
    monkeypatch.setattr(compose_module, "COLOR_SIDE", 10_000)
    full = compose(rgb, alpha, bg)
    soft = (alpha > 0) & (alpha < 1)
    assert np.array_equal(full[~soft], banded[~soft])
    a, bg_a = alpha[soft][:, None], bg[3] / 255
    expected = (np.array([200, 60, 20]) * a + np.array(bg[:3]) * bg_a * (1 - a)) / (a + bg_a * (1 - a))
    # the soft pixels take the subject's colour, not the image's (black there); the downscaled sums are
    # rounded to 8 bits before the division, so near the core's rim they are a few levels off
    assert np.abs(full[soft][:, :3] - expected).max() <= 1
    assert np.abs(banded[soft][:, :3] - expected).max() <= 6


@PROPERTIES
@given(alpha=mattes(), bg=colors, data=st.data())
def test_compose_never_raises_and_its_output_is_well_formed(alpha, bg, data):
    rgb = data.draw(images((*alpha.shape, 3)))
    out = compose(rgb, alpha, bg)
    opaque_bg = bg is not None and bg[3] == 255
    assert out.shape == (*alpha.shape, 3 if opaque_bg else 4) and out.dtype == np.uint8
    solid = alpha == 1.0
    assert (out[solid][:, :3] == rgb[solid]).all()
    if opaque_bg:
        assert (out[alpha == 0.0] == bg[:3]).all()
    else:
        assert np.array_equal(out[:, :, 3], _expected_alpha(alpha, bg))
        assert (out[out[:, :, 3] == 0] == 0).all()  # fully transparent pixels are zeroed


def _photo_and_soft_matte(data_dir, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A real photo and its true mask blurred into a wide soft edge (like refine=none's), long side `side`."""
    stem = "ILSVRC2012_test_00000003"
    photo = Image.open(data_dir / "duts-te-150" / "images" / f"{stem}.jpg").convert("RGB")
    mask = Image.open(data_dir / "duts-te-150" / "masks" / f"{stem}.png").convert("L")
    scale = side / max(photo.size)
    size = (round(photo.width * scale), round(photo.height * scale))
    rgb = np.asarray(photo.resize(size, Image.Resampling.BICUBIC)).copy()
    alpha = np.asarray(mask.resize(size, Image.Resampling.BILINEAR), np.float32) / 255
    return rgb, np.clip(cv2.GaussianBlur(alpha, (0, 0), side / 60) * 1.2 - 0.1, 0, 1)


def _reference_over(fg: np.ndarray, alpha: np.ndarray, bg: tuple[int, int, int, int]) -> np.ndarray:
    """Porter-Duff "over" a colour in float64, straight from its definition."""
    a, bg_a = alpha.astype(np.float64)[:, :, None], bg[3] / 255
    out_a = a + bg_a * (1 - a)
    return (fg * a + np.array(bg[:3]) * bg_a * (1 - a)) / np.maximum(out_a, 1e-6)


@pytest.mark.parametrize("side", [800, 1400])  # sums at full size, and downscaled to COLOR_SIDE
def test_soft_pixels_painted_band_by_band_are_the_colours_found_at_once(data_dir, monkeypatch, side):
    rgb, alpha = _photo_and_soft_matte(data_dir, side)
    a8 = to_uint8(alpha)
    soft = (a8 > 0) & (a8 < 254)
    assert soft.mean() > 0.1  # mostly soft rows: many bands of soft pixels
    ys, xs, colors = edge_colors(rgb, a8)
    expected = rgb.copy()
    expected[ys, xs] = colors
    assert (expected[soft] != rgb[soft]).any(axis=1).mean() > 0.5  # most soft pixels take a subject colour
    for points in (1 << 12, compose_module.BAND_POINTS):
        monkeypatch.setattr(compose_module, "BAND_POINTS", points)
        assert np.array_equal(compose(rgb, a8, None)[:, :, :3][a8 > 0], expected[a8 > 0])
        for bg in ((40, 90, 200, 255), (40, 90, 200, 100)):
            out = compose(rgb, alpha, bg)
            over = _reference_over(expected, alpha, bg)
            assert np.abs(out[:, :, :3] - over).max() <= 0.5 + 1e-3  # float32 maths, rounded once
        out = compose_module.compose_over(rgb, alpha, np.full_like(rgb, 7))
        assert np.abs(out - _reference_over(expected, alpha, (7, 7, 7, 255))).max() <= 0.5 + 1e-3


def test_bilinear_samples_of_the_padded_flat_map_are_the_plain_ones():
    rng = np.random.default_rng(3)
    height, width = 37, 53
    image = (rng.random((height, width, 4)) * 1000).astype(np.float32)
    padded = np.pad(image, ((0, 1), (0, 1), (0, 0)), mode="edge")
    y = np.concatenate([rng.random(500) * (height - 1), [0, height - 1, height - 1, 0]]).astype(np.float32)
    x = np.concatenate([rng.random(500) * (width - 1), [0, width - 1, 0, width - 1]]).astype(np.float32)
    y0, x0 = y.astype(int), x.astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    expected = top * (1 - fy) + bottom * fy  # clipped neighbours at the last row and column
    assert np.array_equal(compose_module._bilinear(padded.reshape(-1, 4), width + 1, y, x), expected)


# ---- faint colours rounded to what their alpha shows -------------------------------------------------------


def over(rgba: np.ndarray, background: int) -> np.ndarray:
    """The pixels shown over a grey background of this level, in float (no rounding)."""
    a = rgba[:, :, 3:].astype(np.float64) / 255.0
    return rgba[:, :, :3] * a + background * (1.0 - a)


def test_faint_colours_move_no_pixel_over_any_background_by_more_than_a_level():
    rng = np.random.default_rng(7)
    rgba = rng.integers(0, 256, (64, 256, 4), dtype=np.uint8)
    rgba[0, :, 3] = np.arange(256)  # every alpha value once
    rgba[1, :, :3] = 0  # black and white faint pixels (a shadow, a halo) stay black and white
    rgba[2, :, :3] = 255
    rounded = round_faint_colours(rgba.copy())
    assert np.array_equal(rounded[:, :, 3], rgba[:, :, 3])  # the matte is never touched
    assert (rounded[1, :, :3] == 0).all() and (rounded[2, :, :3] == 255).all()
    opaque = rgba[:, :, 3] == 255
    assert np.array_equal(rounded[opaque], rgba[opaque])  # nor an opaque pixel's colour
    for background in (0, 128, 255):
        assert np.abs(over(rounded, background) - over(rgba, background)).max() <= FAINT_LEVELS + 1e-9


def test_faint_colours_take_few_values_so_a_soft_matte_encodes_smaller():
    rng = np.random.default_rng(8)
    rgb = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full((128, 128), 3, np.uint8)])  # a faint haze, as refine=none leaves far out
    rounded = round_faint_colours(rgba.copy())
    assert set(np.unique(rounded[:, :, :3])) == {0, 128, 255}  # alpha 3: steps of 128, black and white kept
    assert len(encode(rounded, "PNG", 100)) < len(encode(rgba, "PNG", 100)) / 2.5
