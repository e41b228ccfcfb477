"""Alpha matting as rembg's `a`/`af`/`ab`/`ae` ask for it: closed-form matting (pymatting) in the band between
the sure subject and the sure background of a trimap made from our alpha.

The solve's work is bounded whatever the thresholds: its cost grows with the unknown pixels, and far faster
with the ones deep inside a wide unknown region (the incomplete-Cholesky factor fills in and conjugate
gradient needs more iterations), which `ae=255 af=0 ab=255` makes of nearly the whole image. So the box is
solved at a reduced size that keeps both counts under their bounds, the factor and the iterations are
capped, and a solve that hits a cap gives the plain cut-out back (as rembg does on an empty trimap).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from bgremover.processing import deadline
from bgremover.processing.job import Cutout

log = logging.getLogger("bgremover.matting")

UNKNOWN = 0.5
PAD = 2  # pixels of known trimap kept around the unknown band's box, so the band's windows see both sides
MAX_SOLVE_PIXELS = 1_000_000  # a larger band box is solved at reduced size (time and memory stay bounded)
MAX_UNKNOWN_PIXELS = 100_000  # unknown pixels solved at full size: default thresholds' bands stay below it
DEEP = 16  # pixels: an unknown pixel farther than this from every known one is deep (and costly to solve)
MAX_DEEP_PIXELS = 10_000  # deep unknown pixels solved at full size
FILL_PER_PIXEL = 128  # incomplete-Cholesky factor entries per unknown pixel allowed (seen: 40 in bands, 110 wide)
MAX_ITERATIONS = 100  # conjugate-gradient iterations (bounded solves converge in about 50 at most)


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

    Only the bounding box of the unknown band (plus PAD pixels) is solved, at the size solve_scale allows;
    everywhere else the result is the trimap's 0 or 1. Where matting cannot run (the thresholds and the
    erosion leave no sure subject or no sure background beside the band, or the solver hits a bound or
    gives up), the alpha comes back as it was: the plain cut-out, as rembg falls back to.
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


def deep_pixels(tri: np.ndarray) -> int:
    """Unknown pixels farther than DEEP pixels from every known one."""
    unknown = (tri == UNKNOWN).astype(np.uint8)
    return int((cv2.distanceTransform(unknown, cv2.DIST_L2, 3) > DEEP).sum())


def solve_scale(tri: np.ndarray) -> float:
    """The scale a box is solved at: at most 1, and small enough that the box has at most MAX_SOLVE_PIXELS,
    MAX_UNKNOWN_PIXELS unknown and MAX_DEEP_PIXELS deep ones (counted at full size, so shrinking, which
    also brings every pixel nearer to a known one, leaves the deep ones fewer than the bound)."""
    bounds = [(tri.size, MAX_SOLVE_PIXELS), (int((tri == UNKNOWN).sum()), MAX_UNKNOWN_PIXELS)]
    bounds.append((deep_pixels(tri), MAX_DEEP_PIXELS))
    return min(1.0, *(math.sqrt(bound / count) for count, bound in bounds if count > 0))


def _solve(rgb: np.ndarray, tri: np.ndarray) -> np.ndarray | None:
    """Closed-form matting of one box, shrunk first to solve_scale; None if it cannot run or hits a bound."""
    from pymatting import estimate_alpha_cf, ichol  # late: numba loads on first import; only matting requests pay it

    solver_threads.apply()  # after the import, which loads scipy's BLAS too
    height, width = tri.shape
    scale = solve_scale(tri)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    small_tri = cv2.resize(tri, size, interpolation=cv2.INTER_NEAREST) if scale < 1 else tri
    if not solvable(small_tri):  # checked on what is solved: shrinking can drop a thin sure region
        if scale < 1:
            _fell_back("the bounded size keeps no sure subject or background", size, small_tri)
        return None
    unknown = int((small_tri == UNKNOWN).sum())
    if unknown == 0:  # shrinking left no unknown pixel: the trimap is the matte
        return cv2.resize(small_tri.astype(np.float32), (width, height), interpolation=cv2.INTER_NEAREST)

    def preconditioner(matrix: Any) -> Any:
        return ichol(matrix, max_nnz=FILL_PER_PIXEL * unknown)  # past it: a ValueError, not gigabytes

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints preconditioner retries; logs stay JSON
            solved = estimate_alpha_cf(
                image.astype(np.float64) * (1.0 / 255.0),
                small_tri,
                preconditioner=preconditioner,
                cg_kwargs={"callback": _between_iterations, "maxiter": MAX_ITERATIONS},
            ).astype(np.float32)
    except ValueError as exc:  # a bound hit, or the solver's own give-ups: rembg's fallback, the plain cut-out
        _fell_back(str(exc).split(".")[0], size, small_tri)
        return None
    return cv2.resize(solved, (width, height), interpolation=cv2.INTER_LINEAR) if scale < 1 else solved


def _fell_back(reason: str, size: tuple[int, int], tri: np.ndarray) -> None:
    """The log line of a solve that gave the plain cut-out back."""
    extra = {"reason": reason, "solve_size": f"{size[0]}x{size[1]}", "unknown_pixels": int((tri == UNKNOWN).sum())}
    log.info("alpha matting fell back to the plain cut-out", extra=extra)


def _between_iterations(*state: Any) -> None:
    """pymatting's conjugate-gradient callback, after each iteration: a deadline safe point (no lock is held there)."""
    deadline.check()


class SolverThreads:
    """The threads of the solver's BLAS calls (numpy's and scipy's OpenBLAS; bgremover makes no other BLAS call,
    and the rest of the solve, numba code without `parallel`, runs on its caller's thread). BLAS limits are
    process-wide, so they are set once per process rather than around each solve, where requests served at
    once would undo each other's."""

    def __init__(self) -> None:
        self.threads: int | None = None  # None: the libraries' own default (one per core)
        self._applied: int | None = None
        self._lock = threading.Lock()

    def configure(self, threads: int) -> None:
        """Run the solver's BLAS on `threads` threads from the next solve on (the app sets MATTING_THREADS)."""
        self.threads = threads

    def apply(self) -> None:
        """Set the configured limit on the BLAS libraries loaded by now, once per value."""
        from threadpoolctl import threadpool_limits

        with self._lock:
            if self.threads is not None and self._applied != self.threads:
                threadpool_limits(limits=self.threads, user_api="blas")
                self._applied = self.threads


solver_threads = SolverThreads()


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
