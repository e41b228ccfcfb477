"""Band matting alone, on arrays: any of rembg's legal thresholds and erosions gives a matte, never an error."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bgremover.processing import matting
from tests.processing.synthetic import PROPERTIES, image_for, mattes

LEVEL = st.integers(0, 255)  # af, ab and ae all accept 0-255


def photo_like(height: int = 90, width: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A red disc with a 12 px soft edge on a blue background, and a hard-edged guess of its alpha."""
    yy, xx = np.mgrid[:height, :width]
    distance = np.hypot(yy - height / 2, xx - width / 2)
    truth = np.clip((30 - distance) / 12 + 0.5, 0, 1).astype(np.float32)
    fg, bg = np.array([220, 40, 40], np.float32), np.array([30, 60, 200], np.float32)
    rgb = (truth[:, :, None] * fg + (1 - truth[:, :, None]) * bg + 0.5).astype(np.uint8)
    return rgb, (truth >= 0.5).astype(np.float32)


def check_matte(out: np.ndarray, alpha: np.ndarray) -> None:
    assert out.shape == alpha.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(
    ("foreground", "background", "erode"),
    [(240, 10, 255), (0, 255, 255), (255, 0, 0), (255, 10, 10), (240, 0, 10)],
)
def test_a_trimap_without_sure_subject_or_background_gives_back_the_plain_cutout(foreground, background, erode):
    """rembg's fallback: when matting cannot run, the alpha as it came (no ValueError from pymatting)."""
    rgb, alpha = photo_like()
    tri = matting.trimap(alpha, foreground, background, erode)
    assert not matting.solvable(tri)
    out = matting.band_matte(rgb, alpha, foreground, background, erode)
    assert np.array_equal(out, alpha)


def test_the_check_is_made_on_the_shrunk_box_that_is_solved(monkeypatch):
    """A sure subject one pixel wide can vanish when a large box is shrunk to MAX_SOLVE_PIXELS."""
    monkeypatch.setattr(matting, "MAX_SOLVE_PIXELS", 400)
    rgb, alpha = photo_like()
    alpha[:] = 0.5
    alpha[44:47, 60:63] = 1.0  # the only sure subject: 3 × 3 pixels, eroded to one, gone at a 27th of the area
    alpha[:3, :] = 0.0
    tri = matting.trimap(alpha, 240, 10, 0)
    assert matting.solvable(tri) and not matting.solvable(cv2.resize(tri, (23, 17), interpolation=cv2.INTER_NEAREST))
    assert np.array_equal(matting.band_matte(rgb, alpha, 240, 10, 0), alpha)


@PROPERTIES
@given(foreground=LEVEL, background=LEVEL, erode=LEVEL)
@example(foreground=240, background=10, erode=255)
@example(foreground=0, background=255, erode=0)
@example(foreground=255, background=255, erode=1)
def test_any_thresholds_and_erosion_give_a_matte(foreground, background, erode):
    rgb, alpha = photo_like()
    out = matting.band_matte(rgb, alpha, foreground, background, erode)
    check_matte(out, alpha)
    sure = matting.trimap(alpha, foreground, background, erode) != matting.UNKNOWN
    if matting.solvable(matting.trimap(alpha, foreground, background, erode)):
        assert np.array_equal(out[sure], matting.trimap(alpha, foreground, background, erode)[sure])


@PROPERTIES
@given(alpha=mattes(), foreground=LEVEL, background=LEVEL, erode=st.integers(0, 12))
def test_any_matte_of_any_shape_gives_a_matte(alpha, foreground, background, erode):
    check_matte(matting.band_matte(image_for(alpha), alpha, foreground, background, erode), alpha)


def nearly_all_unknown(height: int = 240, width: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """rembg's `ae=255 af=0 ab=255` in small: a textured photo whose trimap is unknown but for a sure subject
    in the middle and a thin sure background at the top, so most unknown pixels lie deep inside."""
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    alpha = np.full((height, width), 0.5, np.float32)
    alpha[height // 2 - 4 : height // 2 + 4, width // 2 - 4 : width // 2 + 4] = 1.0
    alpha[:3, :] = 0.0
    return rgb, alpha


def test_a_nearly_all_unknown_trimap_is_solved_at_a_bounded_size_within_the_iteration_bound(monkeypatch):
    rgb, alpha = nearly_all_unknown()
    tri = matting.trimap(alpha, 240, 10, 0)
    deep = matting.deep_pixels(tri)
    assert deep > matting.MAX_DEEP_PIXELS  # the case the bound is for
    assert matting.solve_scale(tri) == pytest.approx(np.sqrt(matting.MAX_DEEP_PIXELS / deep))
    iterations = []
    monkeypatch.setattr(matting, "_between_iterations", lambda *state: iterations.append(1))
    out = matting.band_matte(rgb, alpha, 240, 10, 0)
    check_matte(out, alpha)
    assert 0 < len(iterations) <= matting.MAX_ITERATIONS
    assert not np.array_equal(out, alpha)  # solved, not fallen back: the sure regions survive the shrinking
    assert (out[tri == 1.0] == 1).all() and (out[tri == 0.0] == 0).all()


def test_the_default_thresholds_band_is_solved_at_full_size():
    """A thin band (rembg's defaults on a clear edge) is under every bound: matting is what it always was."""
    tri = matting.trimap(photo_like(300, 400)[1], 240, 10, 10)
    assert matting.deep_pixels(tri) == 0 and matting.solve_scale(tri) == 1.0


@pytest.mark.parametrize(
    ("bound", "value", "reason"),
    [
        ("MAX_ITERATIONS", 1, "Conjugate gradient descent did not converge within 1 iterations"),
        ("FILL_PER_PIXEL", 1, "more than max_nnz non-zero elements were created"),
    ],
)
def test_a_solve_that_hits_a_bound_gives_the_plain_cutout_and_a_log_line(monkeypatch, caplog, bound, value, reason):
    monkeypatch.setattr(matting, bound, value)
    rgb, alpha = nearly_all_unknown()
    with caplog.at_level("INFO", logger="bgremover.matting"):
        out = matting.band_matte(rgb, alpha, 240, 10, 0)
    assert np.array_equal(out, alpha)
    (record,) = [r for r in caplog.records if r.name == "bgremover.matting"]
    assert record.getMessage() == "alpha matting fell back to the plain cut-out"
    assert reason in record.reason and record.unknown_pixels > 0


def test_a_shrinking_that_loses_the_sure_regions_is_logged_as_a_fallback(monkeypatch, caplog):
    monkeypatch.setattr(matting, "MAX_DEEP_PIXELS", 50)  # shrunk so far that the 8 × 8 sure subject vanishes
    rgb, alpha = nearly_all_unknown()
    with caplog.at_level("INFO", logger="bgremover.matting"):
        assert np.array_equal(matting.band_matte(rgb, alpha, 240, 10, 0), alpha)
    assert [r.reason for r in caplog.records] == ["the bounded size keeps no sure subject or background"]


def test_the_solver_runs_blas_on_the_configured_threads(monkeypatch):
    import pymatting  # noqa: F401  # its BLAS libraries loaded before the originals are recorded
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=None, user_api="blas"):  # restores every BLAS library's threads at the end
        monkeypatch.setattr(matting, "solver_threads", matting.SolverThreads())
        matting.solver_threads.configure(1)
        before = {lib["filepath"] for lib in threadpool_info() if lib["user_api"] == "blas"}
        check_matte(matting.band_matte(*photo_like(), 240, 10, 10), photo_like()[1])
        blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
        assert blas and before <= {lib["filepath"] for lib in blas}
        assert {lib["num_threads"] for lib in blas} == {1}


SOLVE_AND_COUNT_THREADS = """
import os, numpy as np
from tests.processing.test_matting import nearly_all_unknown
from bgremover.processing import matting
import pymatting
matting.solver_threads.configure(1)
before = len(os.listdir("/proc/self/task"))
matting.band_matte(*nearly_all_unknown(), 240, 10, 0)
print(before, len(os.listdir("/proc/self/task")))
"""


def test_the_solve_starts_no_thread_of_its_own():
    """No numba `parallel` code (whose thread pool NUMBA_NUM_THREADS would size) runs: the process's OS threads
    are as many after a solve as before (a fresh process, where nothing else has started numba's pool)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    done = subprocess.run(
        [sys.executable, "-c", SOLVE_AND_COUNT_THREADS], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert after == before


def test_the_deadline_still_stops_a_bounded_solve_between_iterations():
    from bgremover.errors import ProcessingTimeout
    from bgremover.processing.deadline import Deadline, running

    rgb, alpha = nearly_all_unknown()
    with running(Deadline(0.0)), pytest.raises(ProcessingTimeout):
        matting.band_matte(rgb, alpha, 240, 10, 0)
