"""The compose stage alone, on synthetic mattes: every matte shape × every kind of background."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgremover.processing import compose as compose_module
from bgremover.processing.compose import compose, edge_colors, to_uint8
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
