"""Compose: true foreground colours at the edges (no fringe), then transparency or a background colour."""

from __future__ import annotations

import cv2
import numpy as np

FG_RADII = (45, 5)  # coarse then fine pass of blur-fusion foreground estimation
STRIP_ROWS = 512  # rows estimated at a time, to bound memory on large images


def _blur(arr: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(arr, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _blur_fusion(image: np.ndarray, alpha: np.ndarray, radius: int, fg: np.ndarray, bg: np.ndarray):
    """One pass of Germer et al.'s blur-fusion estimate of foreground and background colours."""
    a = alpha[:, :, None]
    blurred_a = _blur(alpha, radius)[:, :, None]
    blurred_fa = _blur(fg * a, radius) / (blurred_a + 1e-5)
    blurred_b1a = _blur(bg * (1.0 - a), radius) / ((1.0 - blurred_a) + 1e-5)
    fg = blurred_fa + a * (image - a * blurred_fa - (1.0 - a) * blurred_b1a)
    return np.clip(fg, 0.0, 1.0, out=fg), blurred_b1a


def _estimate_strip(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    image = rgb.astype(np.float32) * (1.0 / 255.0)
    fg, bg = image, image
    for radius in FG_RADII:
        fg, bg = _blur_fusion(image, alpha, radius, fg, bg)
    return (fg * 255.0 + 0.5).astype(np.uint8)


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB whose semi-transparent pixels hold the subject's own colour, not the background's mix."""
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
