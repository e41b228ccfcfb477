"""Band matting alone, on arrays: any of rembg's legal thresholds and erosions gives a matte, never an error."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bgremover.processing import matting
from tests.processing.synthetic import PROPERTIES, image_for, mattes

LEVEL = st.integers(0, 255)  # af, ab and ae all accept 0-255


def photo_like(height: int = 90, width: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A red disc with a 12 px soft edge on a blue background, and a hard-edged guess of its alpha."""
    yy, xx = np.mgrid[:height, :width]
    distance = np.hypot(yy - height / 2, xx - width / 2)
    truth = np.clip((30 - distance) / 12 + 0.5, 0, 1).astype(np.float32)
    fg, bg = np.array([220, 40, 40], np.float32), np.array([30, 60, 200], np.float32)
    rgb = (truth[:, :, None] * fg + (1 - truth[:, :, None]) * bg + 0.5).astype(np.uint8)
    return rgb, (truth >= 0.5).astype(np.float32)


def check_matte(out: np.ndarray, alpha: np.ndarray) -> None:
    assert out.shape == alpha.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(
    ("foreground", "background", "erode"),
    [(240, 10, 255), (0, 255, 255), (255, 0, 0), (255, 10, 10), (240, 0, 10)],
)
def test_a_trimap_without_sure_subject_or_background_gives_back_the_plain_cutout(foreground, background, erode):
    """rembg's fallback: when matting cannot run, the alpha as it came (no ValueError from pymatting)."""
    rgb, alpha = photo_like()
    tri = matting.trimap(alpha, foreground, background, erode)
    assert not matting.solvable(tri)
    out = matting.band_matte(rgb, alpha, foreground, background, erode)
    assert np.array_equal(out, alpha)


def test_the_check_is_made_on_the_shrunk_box_that_is_solved(monkeypatch):
    """A sure subject one pixel wide can vanish when a large box is shrunk to MAX_SOLVE_PIXELS."""
    monkeypatch.setattr(matting, "MAX_SOLVE_PIXELS", 400)
    rgb, alpha = photo_like()
    alpha[:] = 0.5
    alpha[44:47, 60:63] = 1.0  # the only sure subject: 3 × 3 pixels, eroded to one, gone at a 27th of the area
    alpha[:3, :] = 0.0
    tri = matting.trimap(alpha, 240, 10, 0)
    assert matting.solvable(tri) and not matting.solvable(cv2.resize(tri, (23, 17), interpolation=cv2.INTER_NEAREST))
    assert np.array_equal(matting.band_matte(rgb, alpha, 240, 10, 0), alpha)


@PROPERTIES
@given(foreground=LEVEL, background=LEVEL, erode=LEVEL)
@example(foreground=240, background=10, erode=255)
@example(foreground=0, background=255, erode=0)
@example(foreground=255, background=255, erode=1)
def test_any_thresholds_and_erosion_give_a_matte(foreground, background, erode):
    rgb, alpha = photo_like()
    out = matting.band_matte(rgb, alpha, foreground, background, erode)
    check_matte(out, alpha)
    sure = matting.trimap(alpha, foreground, background, erode) != matting.UNKNOWN
    if matting.solvable(matting.trimap(alpha, foreground, background, erode)):
        assert np.array_equal(out[sure], matting.trimap(alpha, foreground, background, erode)[sure])


@PROPERTIES
@given(alpha=mattes(), foreground=LEVEL, background=LEVEL, erode=st.integers(0, 12))
def test_any_matte_of_any_shape_gives_a_matte(alpha, foreground, background, erode):
    check_matte(matting.band_matte(image_for(alpha), alpha, foreground, background, erode), alpha)
