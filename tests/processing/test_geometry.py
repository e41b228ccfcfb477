"""The geometry stage alone: the trim box, the fitted size and the area downscale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgremover.processing.geometry import TRIM_THRESHOLD, fit_size, resize, trim_box
from tests.processing.synthetic import MATTES, PROPERTIES, mattes


@pytest.mark.parametrize("matte", ["zeros", "ones", "hard_edge", "soft_edge", "one_pixel", "row"])
def test_trim_box_of_each_synthetic_matte(matte):
    alpha = MATTES[matte]()
    height, width = alpha.shape
    expected = {
        "zeros": None,
        "ones": (0, 0, width, height),
        "hard_edge": (0, 0, width // 2, height),
        "soft_edge": (0, 0, width, height),
        "one_pixel": (width // 3, height // 3, width // 3 + 1, height // 3 + 1),
        "row": (0, 0, 2 * width // 3, 1),
    }[matte]
    assert trim_box(alpha, 0) == expected


def test_padding_is_clipped_to_the_image():
    alpha = MATTES["one_pixel"](24, 32)  # the pixel is at (8, 10)
    assert trim_box(alpha, 3) == (7, 5, 14, 12)
    assert trim_box(alpha, 500) == (0, 0, 32, 24)


def test_alpha_at_the_threshold_is_not_subject():
    alpha = np.zeros((10, 10), np.float32)
    alpha[2, 3] = TRIM_THRESHOLD
    assert trim_box(alpha, 0) is None
    alpha[2, 3] = np.nextafter(np.float32(TRIM_THRESHOLD), np.float32(1))
    assert trim_box(alpha, 0) == (3, 2, 4, 3)


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((800, 600), (None, None), (800, 600)),
        ((800, 600), (4000, 4000), (800, 600)),  # never upscaled
        ((800, 600), (400, None), (400, 300)),
        ((800, 600), (None, 150), (200, 150)),
        ((800, 600), (400, 100), (133, 100)),  # the tighter side wins
        ((4000, 1), (100, None), (100, 1)),  # never below one pixel
        ((1, 4000), (None, 100), (1, 100)),
    ],
)
def test_fit_size(size, box, expected):
    assert fit_size(*size, *box) == expected


def test_resize_keeps_an_already_fitting_array_and_area_averages_otherwise():
    alpha = MATTES["hard_edge"](20, 40)
    assert resize(alpha, (40, 20)) is alpha
    half = resize(alpha, (20, 10))
    assert half.shape == (10, 20) and half.dtype == np.float32
    assert half.mean() == pytest.approx(alpha.mean()) and half.min() >= 0.0 and half.max() <= 1.0
    rgb = np.dstack([alpha * 255] * 3).astype(np.uint8)
    assert resize(rgb, (20, 10)).shape == (10, 20, 3)


@PROPERTIES
@given(alpha=mattes(), padding=st.integers(0, 50))
def test_trim_box_lies_inside_the_image_and_holds_the_whole_subject(alpha, padding):
    box = trim_box(alpha, padding)
    subject = alpha > TRIM_THRESHOLD
    if box is None:
        assert not subject.any()
        return
    left, top, right, bottom = box
    height, width = alpha.shape
    assert 0 <= left < right <= width and 0 <= top < bottom <= height
    assert subject[top:bottom, left:right].sum() == subject.sum()  # nothing of the subject is cut off
    ys, xs = np.nonzero(subject)
    assert box == (
        max(0, xs.min() - padding),
        max(0, ys.min() - padding),
        min(width, xs.max() + 1 + padding),
        min(height, ys.max() + 1 + padding),
    )


sides = st.integers(1, 8000)
bounds = st.none() | st.integers(100, 4000)


@PROPERTIES
@given(width=sides, height=sides, max_width=bounds, max_height=bounds)
def test_fit_size_stays_in_the_box_keeps_the_aspect_and_never_upscales(width, height, max_width, max_height):
    w, h = fit_size(width, height, max_width, max_height)
    assert 1 <= w <= width and 1 <= h <= height
    assert w <= (max_width or w) and h <= (max_height or h)
    scale = min(1.0, (max_width or width) / width, (max_height or height) / height)
    assert abs(w - width * scale) <= 0.5 + 1e-9 or w == 1
    assert abs(h - height * scale) <= 0.5 + 1e-9 or h == 1
