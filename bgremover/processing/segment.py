"""Segment: the model's soft mask of the subject, at the model's input resolution, from one or several views."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PIL import Image

# refine=high averages the model over these views (mirrored?, gamma): u2netp's mistakes on hard images
# change with small changes of the input, so their mean is steadier than any one pass (README, Quality).
ENSEMBLE_VIEWS = ((False, 1.0), (True, 1.0), (False, 0.8))


class MaskPredictor(Protocol):
    """A loaded model (see models.Segmenter): square uint8 RGB images at `size` in, float32 masks in [0, 1] out."""

    size: int

    def predict(self, images: np.ndarray) -> np.ndarray: ...


def model_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """The image at the model's square input size, resized as rembg does (Lanczos), uint8."""
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0))


def _gamma(rgb: np.ndarray, gamma: float) -> np.ndarray:
    lut = np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return lut[rgb]


def views(small: np.ndarray) -> list[tuple[np.ndarray, bool]]:
    """The ensemble's input images, each with whether it is mirrored left to right."""
    out = []
    for mirrored, gamma in ENSEMBLE_VIEWS:
        view = np.ascontiguousarray(small[:, ::-1]) if mirrored else small
        out.append((_gamma(view, gamma) if gamma != 1.0 else view, mirrored))
    return out


def ensemble(small: np.ndarray, model: MaskPredictor) -> np.ndarray:
    """The mean mask over `views` of an image already at the model's size, mirrored views mapped back."""
    made = views(small)
    masks = model.predict(np.stack([view for view, _ in made]))
    total = np.zeros(masks.shape[1:], np.float32)
    for mask, (_, mirrored) in zip(masks, made, strict=True):
        total += mask[:, ::-1] if mirrored else mask
    return total * (1.0 / len(made))


def segment(rgb: np.ndarray, model: MaskPredictor, *, refine: str) -> np.ndarray:
    """The low-resolution soft mask; `high` averages the model over several views of the image.

    The image is resized to the model's input once; the views are made from that small copy, so a 12-MP
    photo is resized once, not once per view.
    """
    small = model_input(rgb, model.size)
    if refine == "high":
        return ensemble(small, model)
    return model.predict(small[None])[0]
