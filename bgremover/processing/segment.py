"""Segment: the model's soft mask of the subject, at the model's own resolution."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class MaskPredictor(Protocol):
    """Anything that maps an RGB uint8 image to a float32 soft mask in [0, 1] (see models.Segmenter)."""

    def predict(self, rgb: np.ndarray, *, ensemble: bool = False) -> np.ndarray: ...


def segment(rgb: np.ndarray, model: MaskPredictor, *, refine: str) -> np.ndarray:
    """The low-resolution soft mask; `high` refinement averages the model over several views of the image."""
    return model.predict(rgb, ensemble=refine == "high")
