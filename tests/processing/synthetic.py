"""Synthetic mattes, images and backgrounds shared by the stage tests (no model, no files)."""

from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from bgremover.processing.encode import MIMETYPES

FORMATS = [fmt for fmt in MIMETYPES if fmt != "ZIP"]  # every image format (ZIP, remove.bg's bundle: test_layout.py)
# every kind of bg_color: none (transparency), opaque, translucent and fully transparent
BACKGROUNDS: dict[str, tuple[int, int, int, int] | None] = {
    "none": None,
    "opaque": (0, 0, 255, 255),
    "translucent": (0, 0, 255, 128),
    "transparent": (0, 0, 255, 0),
}


def zeros(height: int = 24, width: int = 32) -> np.ndarray:
    """No subject at all."""
    return np.zeros((height, width), np.float32)


def ones(height: int = 24, width: int = 32) -> np.ndarray:
    """All subject: no background, no edge."""
    return np.ones((height, width), np.float32)


def hard_edge(height: int = 24, width: int = 32) -> np.ndarray:
    """Subject on the left half, background on the right, nothing in between."""
    alpha = np.zeros((height, width), np.float32)
    alpha[:, : width // 2] = 1.0
    return alpha


def soft_edge(height: int = 24, width: int = 32) -> np.ndarray:
    """A ramp from 0.1 to 0.9 across the image: every pixel is partly transparent, none is opaque."""
    return np.tile(np.linspace(0.1, 0.9, width, dtype=np.float32), (height, 1))


def one_pixel(height: int = 24, width: int = 32) -> np.ndarray:
    """A single opaque pixel inside an empty matte."""
    alpha = np.zeros((height, width), np.float32)
    alpha[height // 3, width // 3] = 1.0
    return alpha


def row(height: int = 1, width: int = 37) -> np.ndarray:
    """A 1×N matte: opaque, soft and empty pixels in one row."""
    alpha = np.zeros((height, width), np.float32)
    alpha[:, : width // 3] = 1.0
    alpha[:, width // 3 : 2 * width // 3] = 0.5
    return alpha


MATTES = {f.__name__: f for f in (zeros, ones, hard_edge, soft_edge, one_pixel, row)}


def image_for(alpha: np.ndarray, seed: int = 0) -> np.ndarray:
    """Random RGB pixels of the matte's size."""
    return np.random.default_rng(seed).integers(0, 256, (*alpha.shape, 3), dtype=np.uint8)


class FixedMask:
    """A MaskPredictor stand-in: whatever the image, the same mask (at the model's input size)."""

    def __init__(self, mask: np.ndarray) -> None:
        self.size = mask.shape[0]
        self.mask = mask.astype(np.float32)
        self.batches: list[np.ndarray] = []

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(rgb).resize((self.size, self.size), Image.Resampling.LANCZOS))

    def predict(self, images: np.ndarray) -> np.ndarray:
        assert images.shape[1:] == (self.size, self.size, 3) and images.dtype == np.uint8
        self.batches.append(images)
        return np.stack([self.mask] * images.shape[0])


# Property-based tests: modest example counts keep the whole set to a few seconds; no deadline, as the
# machine is shared and a slow example is not a failure.
PROPERTIES = settings(max_examples=60, deadline=None)


@st.composite
def mattes(draw: st.DrawFn, max_side: int = 40) -> np.ndarray:
    """A random matte of random size: mostly one flat value, with random soft, clear and opaque pixels."""
    shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    values = st.floats(0.0, 1.0, width=32) | st.sampled_from([0.0, 1.0])
    return draw(hnp.arrays(np.float32, shape, elements=values, fill=st.sampled_from([0.0, 1.0])))


def images(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Random uint8 pixels of a shape."""
    return hnp.arrays(np.uint8, shape)


colors = st.none() | st.tuples(*[st.integers(0, 255)] * 4)  # a bg_color, or none
