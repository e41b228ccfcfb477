"""The refine stage alone: upsampling, speck and hole cleaning, the guided filter and the contrast curve."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgremover.processing import refine as refine_module
from bgremover.processing.refine import clean, contrast, guided_upsample, refine, upsample
from tests.processing.synthetic import MATTES, image_for

LEVELS = ("none", "standard", "high")


def test_upsample_is_lanczos_clipped_to_the_unit_range():
    mask = np.zeros((32, 32), np.float32)
    mask[:, 16:] = 1.0  # a hard edge: Lanczos rings past 0 and 1 next to it
    raw = cv2.resize(mask, (100, 80), interpolation=cv2.INTER_LANCZOS4)
    assert raw.min() < 0.0 and raw.max() > 1.0
    out = upsample(mask, 80, 100)
    assert out.shape == (80, 100) and out.dtype == np.float32
    assert np.array_equal(out, np.clip(raw, 0.0, 1.0))


def test_clean_drops_specks_fills_small_holes_and_keeps_the_subject():
    mask = np.zeros((100, 100), np.float32)
    mask[20:80, 20:80] = 1.0  # the subject
    mask[50, 50] = 0.0  # a one-pixel hole inside it
    mask[5, 5] = 1.0  # a one-pixel speck far from it
    mask[98:, 0:2] = 0.9  # a small blob at the border
    out = clean(mask)
    assert out[50, 50] == 1.0 and out[5, 5] == 0.0 and (out[98:, 0:2] == 0.0).all()
    assert (out[20:80, 20:80] == 1.0).all() and out.sum() == 60 * 60
    assert mask[50, 50] == 0.0  # the input is left alone


def test_clean_keeps_big_holes_and_background_touching_the_border():
    mask = np.zeros((100, 100), np.float32)
    mask[10:90, 10:90] = 1.0
    mask[30:70, 30:70] = 0.0  # a hole of 16% of the image: a real gap in the subject
    mask[:, 95:] = 0.0
    assert np.array_equal(clean(mask), mask)


def test_clean_keeps_the_largest_blob_however_small():
    mask = np.zeros((200, 200), np.float32)
    mask[10, 10] = mask[100:102, 100:102] = 1.0  # both far below the speck limit
    out = clean(mask)
    assert out[10, 10] == 0.0 and (out[100:102, 100:102] == 1.0).all()


@pytest.mark.parametrize("level", [0.0, 0.3, 1.0])
def test_guided_filter_keeps_a_flat_mask_flat(level):
    gray = image_for(np.zeros((70, 90)))[:, :, 0]
    alpha = guided_upsample(gray, np.full((32, 32), level, np.float32))
    assert alpha.shape == (70, 90) and alpha.dtype == np.float32
    assert np.allclose(alpha, level, atol=1e-4)


def test_guided_filter_edges_follow_the_image():
    # the image has a sharp edge at column 300; the low-resolution mask only knows it roughly
    gray = np.zeros((400, 600), np.uint8)
    gray[:, 300:] = 255
    small = np.zeros((64, 64), np.float32)
    small[:, 32:] = 1.0
    small = cv2.GaussianBlur(small, (0, 0), 3)
    guided = guided_upsample(gray, small)
    plain = cv2.resize(small, (600, 400), interpolation=cv2.INTER_LINEAR)
    assert abs(guided[200, 299] - guided[200, 300]) > 3 * abs(plain[200, 299] - plain[200, 300])


def test_guided_filter_in_bands_equals_one_pass(monkeypatch):
    rng = np.random.default_rng(5)
    gray = cv2.GaussianBlur(rng.integers(0, 256, (700, 300), dtype=np.uint8), (0, 0), 4)
    mask = cv2.GaussianBlur(rng.random((48, 48), dtype=np.float32), (0, 0), 2)
    banded = guided_upsample(gray, mask)
    monkeypatch.setattr(refine_module, "STRIP_ROWS", 10_000)
    assert np.allclose(guided_upsample(gray, mask), banded, atol=1e-5)


def test_contrast_is_a_smoothstep_in_place():
    alpha = np.linspace(0.0, 1.0, 101, dtype=np.float32)[None].repeat(300, axis=0)  # more rows than a band
    out = contrast(alpha)
    assert out is alpha
    row = out[0]
    assert (row[:40] == 0.0).all() and (row[61:] == 1.0).all() and row[50] == pytest.approx(0.5)
    assert (np.diff(row) >= 0).all() and np.array_equal(out[0], out[-1])


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("matte", ["zeros", "ones", "hard_edge", "soft_edge", "one_pixel"])
def test_every_level_turns_every_mask_into_a_full_size_matte(matte, level):
    mask = MATTES[matte](32, 32)
    rgb = image_for(np.zeros((60, 80)), seed=6)
    alpha = refine(rgb, mask, level)
    assert alpha.shape == (60, 80) and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    if matte in ("zeros", "ones"):
        assert np.allclose(alpha, mask[0, 0], atol=1e-4)
    if matte == "hard_edge":  # subject and background stay themselves away from the edge
        assert (alpha[:, :30] > 0.99).all() and (alpha[:, 50:] < 0.01).all()


def test_none_is_the_plain_upsampled_mask_and_standard_is_firmer():
    mask = cv2.GaussianBlur(MATTES["hard_edge"](32, 32), (0, 0), 2)
    rgb = image_for(np.zeros((64, 64)), seed=7)
    none = refine(rgb, mask, "none")
    assert np.array_equal(none, upsample(mask, 64, 64))
    standard = refine(rgb, mask, "standard")
    soft = lambda a: ((a > 0.05) & (a < 0.95)).mean()  # noqa: E731
    assert soft(standard) < soft(none)
