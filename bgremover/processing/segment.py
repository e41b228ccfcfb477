"""Segment: the model's soft mask of the subject, from one view of the image or, where it is unsure, several.

`standard` runs one pass and asks for a second opinion only when that mask is unsure (README, Quality):
u2netp's mistakes on hard photos change with small changes of the input, so the per-pixel median of three
views (the image, a brightened copy, and the image at a larger input size) is steadier than any one of them.
`high` always takes the median over more views. `none` is one pass, the model's mask as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

# Mean a·(1 − a) of the first mask above which `standard` asks for a second opinion. About one image in
# eight crosses it on duts-te-150, one in seven on alphamatting (make quality reports the rate).
UNSURE = 0.02


class MaskPredictor(Protocol):
    """A loaded model (see models.Segmenter): square uint8 RGB images in, float32 masks in [0, 1] out.

    `size` is the model's own input side; `supports(side)` says whether its backend also takes another.
    """

    size: int

    def supports(self, size: int) -> bool: ...

    def predict(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class View:
    """One way of showing the image to the model: input size (scale × the model's), mirrored, gamma."""

    scale: float = 1.0
    mirrored: bool = False
    gamma: float = 1.0


PLAIN = View()
# The second opinion: a brightened copy (gamma < 1 lifts dark subjects off dark backgrounds) and the image
# at 384 px for u2netp (finer detail); where the backend runs only the model's own size, the mirror instead.
SECOND_OPINION = (View(gamma=0.8), View(scale=1.2))
SECOND_OPINION_FIXED = (View(gamma=0.8), View(mirrored=True))
# `high`: the median of five views, two of them brightened (README, Quality has the alternatives measured).
HIGH_VIEWS = (PLAIN, View(mirrored=True), View(gamma=0.8), View(gamma=0.65), View(scale=1.2))
HIGH_VIEWS_FIXED = (PLAIN, View(mirrored=True), View(gamma=0.8), View(gamma=0.8, mirrored=True), View(gamma=0.65))


@dataclass(frozen=True)
class Segmentation:
    """The soft mask (float32, [0, 1], at the largest view's input size) and how many model passes it took."""

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


def _view_size(model: MaskPredictor, view: View) -> int:
    """The input size of a view, rounded to a multiple of 32 (U²-Net halves its input five times)."""
    return max(32, round(model.size * view.scale / 32) * 32) if view.scale != 1.0 else model.size


def run_views(rgb: np.ndarray, model: MaskPredictor, views: Sequence[View]) -> list[np.ndarray]:
    """The model's mask for each view (mirrored views mapped back), one batch per input size."""
    masks: list[np.ndarray | None] = [None] * len(views)
    sizes = [_view_size(model, view) for view in views]
    for size in dict.fromkeys(sizes):
        small = model_input(rgb, size)  # one resize per input size, the views are made from it
        chosen = [i for i, s in enumerate(sizes) if s == size]
        batch = []
        for i in chosen:
            view = np.ascontiguousarray(small[:, ::-1]) if views[i].mirrored else small
            batch.append(_gamma(view, views[i].gamma) if views[i].gamma != 1.0 else view)
        for i, mask in zip(chosen, model.predict(np.stack(batch)), strict=True):
            masks[i] = np.ascontiguousarray(mask[:, ::-1]) if views[i].mirrored else mask
    return [mask for mask in masks if mask is not None]


def median(masks: Sequence[np.ndarray]) -> np.ndarray:
    """The per-pixel median of masks, all brought to the largest one's size first."""
    side = max(mask.shape[0] for mask in masks)
    same = [m if m.shape[0] == side else cv2.resize(m, (side, side), interpolation=cv2.INTER_LINEAR) for m in masks]
    return np.median(np.stack(same), axis=0).astype(np.float32)


def _usable(model: MaskPredictor, views: Sequence[View], fallback: Sequence[View]) -> Sequence[View]:
    return views if all(model.supports(_view_size(model, v)) for v in views) else fallback


def warm(model: MaskPredictor) -> None:
    """Run every view shape `segment` can ask for once (a compile on OpenVINO), so no request pays for it."""
    grey = np.full((model.size, model.size, 3), 128, np.uint8)
    for views in (_usable(model, SECOND_OPINION, SECOND_OPINION_FIXED), _usable(model, HIGH_VIEWS, HIGH_VIEWS_FIXED)):
        run_views(grey, model, views)


def segment(rgb: np.ndarray, model: MaskPredictor, *, refine: str) -> Segmentation:
    """The soft mask for a refinement level (see the module's docstring for which views each runs)."""
    if refine == "high":
        views = _usable(model, HIGH_VIEWS, HIGH_VIEWS_FIXED)
        return Segmentation(median(run_views(rgb, model, views)), len(views))
    first = run_views(rgb, model, [PLAIN])[0]
    if refine == "none" or uncertainty(first) <= UNSURE:
        return Segmentation(first, 1)
    others = run_views(rgb, model, _usable(model, SECOND_OPINION, SECOND_OPINION_FIXED))
    return Segmentation(median([first, *others]), 1 + len(others))
