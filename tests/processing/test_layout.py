"""Layout of a cut-out (remove.bg's roi, crop, scale, position, bg image), ZIP output and band matting, on arrays."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from bgremover.processing import compose, encode, layout, matting
from bgremover.processing.layout import Length


def subject(height=100, width=200, box=(50, 20, 90, 60)) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image with a distinct colour per column and an opaque rectangle as the subject's alpha."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :, 0] = np.arange(width)[None, :] % 256
    rgb[:, :, 1] = np.arange(height)[:, None] % 256
    alpha = np.zeros((height, width), np.float32)
    left, top, right, bottom = box
    alpha[top:bottom, left:right] = 1.0
    return rgb, alpha


def test_megapixel_fit_brings_either_orientation_under_the_cap():
    assert layout.megapixel_fit(400, 300, 250_000) is None
    side = layout.megapixel_fit(1200, 800, 250_000)
    for w, h in ((1200, 800), (800, 1200)):  # EXIF may turn the image after the box is chosen
        scale = min(side / w, side / h)
        assert round(w * scale) * round(h * scale) <= 250_000 * 1.01
        assert round(w * scale) * round(h * scale) >= 250_000 * 0.97
    assert layout.megapixel_fit(1200, 800, None) is None


def test_keep_region_clears_everything_outside():
    _, alpha = subject()
    layout.keep_region(alpha, (60, 0, 200, 40))
    assert alpha[20:40, 60:90].min() == 1.0
    assert alpha[40:].max() == 0.0 and alpha[:, :60].max() == 0.0


def test_margins_are_relative_to_the_subject_and_capped():
    box = (50, 20, 90, 60)  # 40 × 40
    margins = (Length(10, True), Length(5, False), Length(90, True), Length(600, False))
    assert layout.clamp_margins(margins, box) == (4, 5, 20, 20)  # 10%; 5px; 90% capped at 50%; 600px capped at 50%
    big = (0, 0, 3000, 3000)
    assert layout.clamp_margins((Length(900, False),) * 4, big) == (500,) * 4


def test_crop_pads_with_transparency_where_margins_leave_the_image():
    rgb, alpha = subject()
    out_rgb, out_alpha = layout.crop(rgb, alpha, (50, 20, 90, 60), (30, 0, 0, 60))
    assert out_alpha.shape == (40 + 30, 40 + 60) and out_rgb.shape[:2] == out_alpha.shape
    assert out_alpha[:10].max() == 0.0  # 30 px above, of which 10 lie beyond the top edge
    assert out_alpha[30:, 60:].min() == 1.0 and np.array_equal(out_rgb[30:, 60:], rgb[20:60, 50:90])


def test_place_scales_the_subject_relative_to_the_canvas_and_positions_it():
    rgb, alpha = subject()
    _, placed = layout.place(rgb, alpha, 0.5, (0.0, 1.0))  # half the canvas, bottom left
    left, top, right, bottom = layout.subject_box(placed)
    assert max((right - left) / 200, (bottom - top) / 100) == pytest.approx(0.5, abs=0.02)
    assert left == 0 and bottom == 100
    _, centred = layout.place(rgb, alpha, None, (0.5, 0.5))  # position alone moves, keeps the size
    left, top, right, bottom = layout.subject_box(centred)
    assert (right - left, bottom - top) == (40, 40) and (left, top) == (80, 30)
    same_rgb, same_alpha = layout.place(rgb, alpha, None, None)
    assert same_alpha is alpha and same_rgb is rgb


def test_cover_fills_the_canvas_keeping_the_aspect_ratio():
    bg = np.zeros((100, 400, 3), np.uint8)
    bg[:, 150:250] = 255  # a white band in the middle
    out = layout.cover(bg, 200, 200)  # scaled ×2 to 800 × 200, then the middle 200 columns
    assert out.shape == (200, 200, 3) and out[:, 20:180].min() == 255
    assert layout.cover(bg, 400, 100) is bg


def test_transparency_is_judged_in_8_bits():
    assert layout.has_transparency(np.array([[1.0, 0.5]], np.float32))
    assert not layout.has_transparency(np.array([[1.0, 0.999]], np.float32))


def test_zip_holds_a_colour_jpeg_and_the_exact_alpha_png():
    rgb, alpha = subject()
    alpha[30:35, 60:65] = 0.5
    rgba = compose.compose(rgb, alpha, None)
    archive = zipfile.ZipFile(io.BytesIO(encode.encode(rgba, "ZIP", 90)))
    assert archive.namelist() == ["color.jpg", "alpha.png"]
    color = Image.open(io.BytesIO(archive.read("color.jpg")))
    mask = Image.open(io.BytesIO(archive.read("alpha.png")))
    assert (color.format, color.mode, mask.format, mask.mode) == ("JPEG", "RGB", "PNG", "L")
    assert np.array_equal(np.asarray(mask), rgba[:, :, 3])


def test_compose_over_an_image_keeps_the_subject_and_shows_the_background_elsewhere():
    rgb, alpha = subject()
    background = np.full(rgb.shape, (10, 200, 30), np.uint8)
    out = compose.compose_over(rgb, alpha, background)
    assert out.shape == rgb.shape
    assert np.array_equal(out[25:55, 55:85], rgb[25:55, 55:85])
    assert (out[alpha == 0] == (10, 200, 30)).all()


def test_trimap_follows_rembgs_thresholds_and_erosion():
    alpha = np.zeros((60, 60), np.float32)
    alpha[10:50, 10:50] = 1.0
    alpha[10:50, 30:50] = 0.5  # an uncertain half
    tri = matting.trimap(alpha, 240, 10, 5)
    assert tri[30, 20] == 1.0 and tri[0, 0] == 0.0
    assert tri[30, 40] == matting.UNKNOWN  # neither sure subject nor sure background
    assert tri[30, 11] == matting.UNKNOWN  # eroded off the sure subject's edge


def test_band_matting_recovers_a_soft_edge_the_mask_got_wrong():
    """A subject whose true alpha ramps over 20 px, given a hard mask: matting should get closer to the truth."""
    height, width = 80, 120
    truth = np.clip((np.arange(width, dtype=np.float32) - 50) / 20, 0, 1)[None, :].repeat(height, 0)
    fg, bg = np.array([230, 40, 40], np.float32), np.array([20, 60, 200], np.float32)
    rgb = (truth[:, :, None] * fg + (1 - truth[:, :, None]) * bg + 0.5).astype(np.uint8)
    hard = (truth >= 0.5).astype(np.float32)
    matted = matting.band_matte(rgb, hard, 240, 10, 15)
    band = (truth > 0) & (truth < 1)
    assert np.abs(matted - truth)[band].mean() < 0.5 * np.abs(hard - truth)[band].mean()
    assert matted.dtype == np.float32 and matted.min() >= 0 and matted.max() <= 1
