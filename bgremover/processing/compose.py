"""Compose: subject colours at the soft edges (no background fringe), then transparency or a background."""

from __future__ import annotations

import cv2
import numpy as np

FG_RADII = (4, 32)  # near colours first; the wide radius reaches pixels far from the sure subject
CORE_DEPTH = 3  # pixels inside the opaque edge where colours are taken as the subject's own
STRIP_ROWS = 512  # rows estimated at a time, to bound memory on large images


def _blur(arr: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(arr, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _estimate_strip(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Colours of the subject's core (opaque and a few pixels inside the edge) spread into the soft edge."""
    core = cv2.erode((alpha >= 0.98).astype(np.uint8), np.ones((2 * CORE_DEPTH + 1,) * 2, np.uint8))
    weight = core.astype(np.float32)
    weighted = rgb.astype(np.float32) * weight[:, :, None]
    fg = rgb.astype(np.float32)
    filled = np.zeros(alpha.shape, bool)
    for radius in FG_RADII:
        den = _blur(weight, radius)
        ok = (den > 1e-3) & ~filled
        num = _blur(weighted, radius)
        fg[ok] = num[ok] / den[ok][:, None]
        filled |= ok
    return (fg + 0.5).astype(np.uint8)


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB whose semi-transparent pixels hold the nearby subject's colour, not the background's mix."""
    soft = (alpha > 1 / 255) & (alpha < 254 / 255)
    rows = np.flatnonzero(soft.any(axis=1))
    out = rgb.copy()
    if rows.size == 0:
        return out
    margin = sum(FG_RADII) * 2
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    for start in range(top, bottom, STRIP_ROWS):
        stop = min(start + STRIP_ROWS, bottom)
        lo, hi = max(0, start - margin), min(rgb.shape[0], stop + margin)
        fg = _estimate_strip(rgb[lo:hi], alpha[lo:hi])[start - lo:stop - lo]
        region = soft[start:stop]
        out[start:stop][region] = fg[region]
    return out


def compose(rgb: np.ndarray, alpha: np.ndarray, bg_color: tuple[int, int, int, int] | None) -> np.ndarray:
    """RGBA (or RGB when the background is opaque) uint8 pixels ready to encode."""
    fg = estimate_foreground(rgb, alpha)
    if bg_color is None:
        a8 = (alpha * 255.0 + 0.5).astype(np.uint8)
        fg[a8 == 0] = 0  # fully transparent pixels carry no stray colour
        return np.dstack([fg, a8])
    color = np.array(bg_color[:3], np.float32)
    bg_a = bg_color[3] / 255.0
    a = alpha[:, :, None]
    out_a = a + bg_a * (1.0 - a)
    rgb_out = (fg * a + color * (bg_a * (1.0 - a))) / np.maximum(out_a, 1e-6)
    rgb8 = (rgb_out + 0.5).astype(np.uint8)
    if bg_color[3] == 255:
        return rgb8
    a8 = (out_a[:, :, 0] * 255.0 + 0.5).astype(np.uint8)
    rgb8[a8 == 0] = 0
    return np.dstack([rgb8, a8])
