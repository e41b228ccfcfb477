"""Alpha matting as rembg's `a`/`af`/`ab`/`ae` ask for it: closed-form matting (pymatting) in the band between
the sure subject and the sure background of a trimap made from our alpha."""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from bgremover.processing import deadline
from bgremover.processing.job import Cutout

UNKNOWN = 0.5
PAD = 2  # pixels of known trimap kept around the unknown band's box, so the band's windows see both sides
MAX_SOLVE_PIXELS = 1_000_000  # a larger band box is solved at reduced size (time and memory stay bounded)


def trimap(alpha: np.ndarray, foreground: int, background: int, erode: int) -> np.ndarray:
    """rembg's trimap: alpha above `foreground`/255 is subject, below `background`/255 background, both shrunk by
    an `erode`-pixel square (a 3×3 cross for 0, as scipy's default); the rest is UNKNOWN."""
    a8 = (alpha * 255.0 + 0.5).astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    kernel = np.ones((erode, erode), np.uint8) if erode > 0 else cross
    sure_fg = cv2.erode((a8 > foreground).astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE)
    sure_bg = cv2.erode((a8 < background).astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    out = np.full(a8.shape, UNKNOWN, np.float64)
    out[sure_fg.astype(bool)] = 1.0
    out[sure_bg.astype(bool)] = 0.0
    return out


def band_matte(rgb: np.ndarray, alpha: np.ndarray, foreground: int, background: int, erode: int) -> np.ndarray:
    """The alpha re-estimated by closed-form matting (Levin et al.) where the trimap is unknown; float32 in [0, 1].

    Only the bounding box of the unknown band (plus PAD pixels) is solved, at most at MAX_SOLVE_PIXELS;
    everywhere else the result is the trimap's 0 or 1. Where matting cannot run (the thresholds and the
    erosion leave no sure subject or no sure background beside the band, or the solver gives up), the
    alpha comes back as it was: the plain cut-out, as rembg falls back to.
    """
    tri = trimap(alpha, foreground, background, erode)
    unknown = np.argwhere(tri == UNKNOWN)
    out = tri.astype(np.float32)
    if unknown.size == 0:
        return out
    (top, left), (bottom, right) = unknown.min(axis=0), unknown.max(axis=0) + 1
    top, left = max(0, top - PAD), max(0, left - PAD)
    bottom, right = min(tri.shape[0], bottom + PAD), min(tri.shape[1], right + PAD)
    box_tri = tri[top:bottom, left:right]
    solved = _solve(rgb[top:bottom, left:right], box_tri)
    if solved is None:
        return alpha
    out[top:bottom, left:right] = np.where(box_tri == UNKNOWN, solved, box_tri)
    return out


def solvable(tri: np.ndarray) -> bool:
    """True when the trimap holds both sure subject and sure background: closed-form matting needs both."""
    return bool((tri == 1.0).any() and (tri == 0.0).any())


def _solve(rgb: np.ndarray, tri: np.ndarray) -> np.ndarray | None:
    """Closed-form matting of one box, shrunk first if it is larger than MAX_SOLVE_PIXELS; None if it cannot run."""
    from pymatting import estimate_alpha_cf  # late: numba compiles on first import; only matting requests pay it

    height, width = tri.shape
    scale = min(1.0, math.sqrt(MAX_SOLVE_PIXELS / (height * width)))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    small_tri = cv2.resize(tri, size, interpolation=cv2.INTER_NEAREST) if scale < 1 else tri
    if not solvable(small_tri):  # checked on what is solved: shrinking can drop a thin sure region
        return None
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints preconditioner retries; logs stay JSON
            solved = estimate_alpha_cf(
                image.astype(np.float64) * (1.0 / 255.0), small_tri, cg_kwargs={"callback": _between_iterations}
            ).astype(np.float32)
    except ValueError:  # the solver's own give-ups (preconditioner, no convergence): rembg's fallback too
        return None
    return cv2.resize(solved, (width, height), interpolation=cv2.INTER_LINEAR) if scale < 1 else solved


def _between_iterations(*state: Any) -> None:
    """pymatting's conjugate-gradient callback, after each iteration: a deadline safe point (no lock is held there)."""
    deadline.check()


@dataclass(frozen=True)
class BandMatting:
    """The `matting` step (rembg's `a`, with `af`, `ab` and `ae`): band_matte on the cut-out's alpha."""

    foreground: int
    background: int
    erode: int
    name: ClassVar[str] = "matting"

    def run(self, cutout: Cutout) -> None:
        """Replace the cut-out's alpha by its matted band."""
        cutout.alpha = band_matte(cutout.rgb, cutout.alpha, self.foreground, self.background, self.erode)
