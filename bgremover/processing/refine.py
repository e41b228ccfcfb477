"""Refine: turn the model's low-resolution soft mask into a full-resolution alpha matte."""

from __future__ import annotations

import cv2
import numpy as np

GUIDE_SIDE = 512  # the guided filter is solved at most at this size (same quality as 1024, half the time)
SPECK_FRACTION = 0.001  # foreground blobs smaller than this share of the image are dropped
HOLE_FRACTION = 0.001  # enclosed background holes smaller than this share are filled


def _resize(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    if arr.shape[1] == width and arr.shape[0] == height:
        return arr
    shrink = width < arr.shape[1]
    return cv2.resize(arr, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def upsample(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """The mask brought to the image's size with Lanczos, as rembg does (refine=none)."""
    out = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LANCZOS4)
    return np.clip(out, 0.0, 1.0, out=out)


def clean(mask: np.ndarray) -> np.ndarray:
    """Drop small isolated foreground specks and fill small enclosed holes (by connected components)."""
    out = mask.copy()
    height, width = mask.shape
    limit = SPECK_FRACTION * height * width
    fg = (mask >= 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    if count > 2:
        areas = stats[:, cv2.CC_STAT_AREA]
        speck = areas < limit
        speck[0] = False  # label 0 is the background
        speck[1 + int(np.argmax(areas[1:]))] = False  # never remove the largest subject, however small
        out[speck[labels]] = 0.0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - fg, connectivity=4)
    x, y, w, h, area = (stats[:, i] for i in range(5))
    enclosed = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
    hole = enclosed & (area < HOLE_FRACTION * height * width)
    hole[0] = False
    out[hole[labels]] = 1.0
    return out


def guided_upsample(gray: np.ndarray, mask: np.ndarray, radius: int = 2, eps: float = 1e-3) -> np.ndarray:
    """Fast guided filter (He & Sun): solve at ≤GUIDE_SIDE, apply at full size so edges follow the image."""
    height, width = gray.shape
    scale = min(1.0, GUIDE_SIDE / max(height, width))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    guide = _resize(gray, w, h)
    p = _resize(mask, w, h)
    box = (2 * radius + 1, 2 * radius + 1)
    mean_i = cv2.boxFilter(guide, -1, box)
    mean_p = cv2.boxFilter(p, -1, box)
    cov_ip = cv2.boxFilter(guide * p, -1, box) - mean_i * mean_p
    var_i = cv2.boxFilter(guide * guide, -1, box) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    a = _resize(cv2.boxFilter(a, -1, box), width, height)
    b = _resize(cv2.boxFilter(b, -1, box), width, height)
    return a * gray + b


def contrast(alpha: np.ndarray, low: float = 0.4, high: float = 0.6) -> np.ndarray:
    """A smoothstep between `low` and `high`: firmer subject and background, still-smooth edges."""
    t = np.clip((alpha - low) * (1.0 / (high - low)), 0.0, 1.0, out=alpha)
    return t * t * (3.0 - 2.0 * t)


def refine(rgb: np.ndarray, mask: np.ndarray, level: str) -> np.ndarray:
    """The full-resolution alpha in [0, 1] (float32) for refinement level none, standard or high."""
    height, width = rgb.shape[:2]
    if level == "none":
        return upsample(mask, height, width)
    mask = clean(mask)  # refine=high differs upstream: its mask averages a mirrored pass (segment.py)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * (1.0 / 255.0)
    alpha = guided_upsample(gray, mask)
    return contrast(alpha)
