"""Trim to the subject and downscale to a bounding box (never upscale, aspect ratio kept)."""

from __future__ import annotations

import cv2
import numpy as np

TRIM_THRESHOLD = 8 / 255  # alpha below this does not count as subject when trimming


def trim_box(alpha: np.ndarray, padding: int) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the subject plus padding, clipped to the image; None if empty."""
    subject = alpha > TRIM_THRESHOLD
    rows = np.flatnonzero(subject.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(subject.any(axis=0))
    height, width = alpha.shape
    return (
        max(0, int(cols[0]) - padding),
        max(0, int(rows[0]) - padding),
        min(width, int(cols[-1]) + 1 + padding),
        min(height, int(rows[-1]) + 1 + padding),
    )


def fit_size(width: int, height: int, max_width: int | None, max_height: int | None) -> tuple[int, int]:
    """The largest size within the box with the same aspect ratio, never larger than the original."""
    scale = 1.0
    if max_width:
        scale = min(scale, max_width / width)
    if max_height:
        scale = min(scale, max_height / height)
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale pixels or alpha with area averaging (sharp and alias-free for reductions)."""
    if (arr.shape[1], arr.shape[0]) == size:
        return arr
    return cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
