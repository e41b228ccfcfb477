"""Refine: turn the model's low-resolution soft mask into a full-resolution alpha matte."""

from __future__ import annotations

import cv2
import numpy as np

from bgremover.processing import deadline

GUIDE_SIDE = 512  # the guided filter is solved at most at this size (same quality as 1024, half the time)
SPECK_FRACTION = 0.001  # foreground blobs smaller than this share of the image are dropped
HOLE_FRACTION = 0.001  # enclosed background holes smaller than this share are filled
STRIP_ROWS = 256  # full-size refinement runs in bands of this many rows (bounded memory on big photos)


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
    """Fast guided filter (He & Sun): solve at ≤GUIDE_SIDE, apply at full size so edges follow the image.

    `gray` is the full-size uint8 guide. The full-size pass runs in bands of STRIP_ROWS rows, so a
    large photo needs one float32 alpha, not five full-size float arrays.
    """
    height, width = gray.shape
    scale = min(1.0, GUIDE_SIDE / max(height, width))
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    guide = _resize(gray, w, h).astype(np.float32) * (1.0 / 255.0)
    p = _resize(mask, w, h)
    box = (2 * radius + 1, 2 * radius + 1)
    mean_i = cv2.boxFilter(guide, -1, box)
    mean_p = cv2.boxFilter(p, -1, box)
    cov_ip = cv2.boxFilter(guide * p, -1, box) - mean_i * mean_p
    var_i = cv2.boxFilter(guide * guide, -1, box) - mean_i * mean_i
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    a, b = cv2.boxFilter(a, -1, box), cv2.boxFilter(b, -1, box)
    a *= 1.0 / 255.0  # so the coefficients apply to the uint8 guide directly
    alpha = np.empty((height, width), np.float32)
    sx, sy = w / width, h / height
    for top in range(0, height, STRIP_ROWS):
        deadline.check()
        rows = min(STRIP_ROWS, height - top)
        # the same sampling as cv2.resize(INTER_LINEAR) for output rows top…top+rows
        to_small = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, sy * (top + 0.5) - 0.5]])
        band = alpha[top : top + rows]
        cv2.multiply(_band(a, to_small, width, rows), gray[top : top + rows], band, dtype=cv2.CV_32F)
        cv2.add(band, _band(b, to_small, width, rows), band)
    return alpha


def _band(coeff: np.ndarray, to_small: np.ndarray, width: int, rows: int) -> np.ndarray:
    """Rows of a small coefficient map brought to full size bilinearly (`to_small` maps output → source)."""
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(coeff, to_small, (width, rows), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def contrast(alpha: np.ndarray, low: float = 0.4, high: float = 0.6) -> np.ndarray:
    """A smoothstep between `low` and `high`, in place: firmer subject and background, still-smooth edges."""
    for top in range(0, alpha.shape[0], STRIP_ROWS):  # in bands: one small temporary, not three full-size
        deadline.check()
        t = alpha[top : top + STRIP_ROWS]
        t -= low
        t *= 1.0 / (high - low)
        np.clip(t, 0.0, 1.0, out=t)
        squared = t * t
        t *= -2.0
        t += 3.0
        t *= squared
    return alpha


def refine(rgb: np.ndarray, mask: np.ndarray, level: str) -> np.ndarray:
    """The full-resolution alpha in [0, 1] (float32) for refinement level none, standard or high."""
    height, width = rgb.shape[:2]
    if level == "none":
        return upsample(mask, height, width)
    mask = clean(mask)  # refine=high differs upstream: its mask is an ensemble (segment.py)
    alpha = guided_upsample(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), mask)
    return contrast(alpha)
