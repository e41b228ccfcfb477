"""The compose stage alone, on synthetic mattes."""

from __future__ import annotations

import numpy as np
import pytest

from bgremover.processing.compose import compose

BACKGROUNDS = [None, (0, 0, 255, 255), (0, 0, 255, 128), (0, 0, 255, 0)]


@pytest.mark.parametrize("bg", BACKGROUNDS)
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
