"""Big photos: refine and compose work in bands, so their extra memory stays near one output's size."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from bgremover.processing import compose, refine
from bgremover.processing.decode import Limits, decode
from bgremover.processing.segment import segment


@pytest.fixture(scope="module")
def big(photo_bytes, registry) -> tuple[np.ndarray, np.ndarray]:
    """A real photo at 4000 px wide (12 MP) and its u2netp mask."""
    rgb = decode(photo_bytes, Limits()).rgb
    height = round(rgb.shape[0] * 4000 / rgb.shape[1])
    rgb = cv2.resize(rgb, (4000, height), interpolation=cv2.INTER_CUBIC)
    return rgb, segment(rgb, registry.get("u2netp"), refine="standard").mask


def _peak_mb(fn, *args) -> tuple[object, float]:
    tracemalloc.start()
    try:
        result = fn(*args)
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_refine_peak_is_about_one_float_alpha(big):
    rgb, mask = big
    alpha, peak = _peak_mb(refine.refine, rgb, mask, "standard")
    alpha_mb = alpha.nbytes / 2**20
    assert alpha.shape == rgb.shape[:2] and alpha.dtype == np.float32
    assert peak < 1.6 * alpha_mb, f"refine peaked at {peak:.0f} MB for a {alpha_mb:.0f} MB alpha"


@pytest.mark.parametrize("bg", [None, (0, 255, 0, 255), (0, 0, 255, 128)])
def test_compose_peak_is_bounded(big, bg):
    rgb, mask = big
    alpha = refine.refine(rgb, mask, "standard")
    pixels, peak = _peak_mb(compose.compose, rgb, alpha, bg)
    out_mb = pixels.nbytes / 2**20
    assert pixels.shape[:2] == rgb.shape[:2]
    assert peak < 2.6 * out_mb, f"compose peaked at {peak:.0f} MB for a {out_mb:.0f} MB result"
