"""Segment: the model's soft mask of the subject, from one view of the image or, where it is unsure, several.

`standard` runs one pass and asks for a second opinion only when that mask is unsure (README, Quality):
u2netp's mistakes on hard photos change with small changes of the input, so the per-pixel median of three
views (the image, a brightened copy and its mirror) is steadier than any one of them. `high` always takes
the median over five views. `none` is one pass, the model's mask as it is. Every view is at the model's own
input size and runs as its own call: a larger size would give OpenVINO another compiled model with its own
buffers (+120 to +260 MB per worker), and a batch was no faster than single calls (README, Inference backends).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

# Mean a·(1 − a) of the first mask above which `standard` asks for a second opinion: 14% of duts-te-150 and
# 15% of alphamatting cross it (make quality reports the rate).
UNSURE = 0.02


class MaskPredictor(Protocol):
    """A loaded model (see models.Segmenter): square uint8 RGB images in, float32 masks in [0, 1] out."""

    size: int

    def predict(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class View:
    """One way of showing the image to the model: mirrored left to right, and a gamma (< 1 brightens)."""

    mirrored: bool = False
    gamma: float = 1.0


PLAIN = View()
# The second opinion: a brightened copy (gamma < 1 lifts dark subjects off dark backgrounds) and the mirror.
SECOND_OPINION = (View(gamma=0.8), View(mirrored=True))
# `high`: the median of five views, three of them brightened (README, Quality has the alternatives measured).
HIGH_VIEWS = (PLAIN, View(mirrored=True), View(gamma=0.8), View(gamma=0.8, mirrored=True), View(gamma=0.65))


@dataclass(frozen=True)
class Segmentation:
    """The soft mask (float32, [0, 1], at the model's input size) and how many model passes it took."""

    mask: np.ndarray
    passes: int

    @property
    def second_opinion(self) -> bool:
        """True when more than one view was run."""
        return self.passes > 1


def model_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image at a square model input size, resized as rembg does (Lanczos), uint8."""
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0))


def uncertainty(mask: np.ndarray) -> float:
    """Mean a·(1 − a): 0 for a mask of only 0s and 1s, 0.25 for one of only 0.5s."""
    return float(np.mean(mask * (1.0 - mask)))


def _gamma(rgb: np.ndarray, gamma: float) -> np.ndarray:
    lut = np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return lut[rgb]


def run_views(small: np.ndarray, model: MaskPredictor, views: Sequence[View]) -> list[np.ndarray]:
    """The model's mask for each view of an image already at its input size, mirrored views mapped back."""
    masks = []
    for view in views:
        shown = np.ascontiguousarray(small[:, ::-1]) if view.mirrored else small
        if view.gamma != 1.0:
            shown = _gamma(shown, view.gamma)
        mask = model.predict(shown[None])[0]
        masks.append(np.ascontiguousarray(mask[:, ::-1]) if view.mirrored else mask)
    return masks


def median(masks: Sequence[np.ndarray]) -> np.ndarray:
    """The per-pixel median of masks of one size."""
    return np.median(np.stack(masks), axis=0).astype(np.float32)


def warm(model: MaskPredictor) -> None:
    """Run the model once as `segment` will, so the first request pays no allocation or compile."""
    run_views(np.full((model.size, model.size, 3), 128, np.uint8), model, [PLAIN])


def segment(rgb: np.ndarray, model: MaskPredictor, *, refine: str) -> Segmentation:
    """The soft mask for a refinement level (see the module's docstring for which views each runs)."""
    small = model_input(rgb, model.size)  # resized once: the views are made from this small copy
    if refine == "high":
        return Segmentation(median(run_views(small, model, HIGH_VIEWS)), len(HIGH_VIEWS))
    first = run_views(small, model, [PLAIN])[0]
    if refine == "none" or uncertainty(first) <= UNSURE:
        return Segmentation(first, 1)
    others = run_views(small, model, SECOND_OPINION)
    return Segmentation(median([first, *others]), 1 + len(others))
