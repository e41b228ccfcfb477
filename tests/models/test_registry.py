"""The segmentation stage's views and ensemble, on the real u2netp session."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from bgremover.processing.segment import ENSEMBLE_VIEWS, segment, views


def test_views_mirror_and_brighten_without_touching_the_input():
    rgb = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    before = rgb.copy()
    made = views(rgb)
    assert len(made) == len(ENSEMBLE_VIEWS) == 3
    assert np.array_equal(made[0][0], rgb) and made[0][1] is False
    assert np.array_equal(made[1][0], rgb[:, ::-1]) and made[1][1] is True
    brightened = made[2][0].astype(int)
    assert (brightened >= rgb).all() and (brightened > rgb).mean() > 0.9  # gamma < 1 lifts mid-tones
    assert np.array_equal(rgb, before)


def test_ensemble_of_a_mirror_symmetric_scene_is_symmetric(registry, photo_bytes):
    from bgremover.processing.decode import Limits, decode

    rgb = decode(photo_bytes, Limits()).rgb
    symmetric = np.concatenate([rgb, rgb[:, ::-1]], axis=1)
    model = registry.get("u2netp")
    single = segment(symmetric, model, refine="standard")
    ensemble = segment(symmetric, model, refine="high")
    assert ensemble.shape == single.shape == (320, 320) and ensemble.dtype == np.float32
    assert ensemble.min() >= 0.0 and ensemble.max() <= 1.0
    # the mirrored view is mapped back before averaging, so a symmetric input stays symmetric
    assert np.abs(ensemble - ensemble[:, ::-1]).mean() <= np.abs(single - single[:, ::-1]).mean() + 1e-3
    assert not np.array_equal(ensemble, single)


# In a fresh process: the threads a loaded model adds, and the CPU its process burns while idle after a run.
THREAD_PROBE = """
import os, resource, sys, time
from pathlib import Path
import numpy as np, onnxruntime
from bgremover.models.registry import ModelRegistry
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = len(os.listdir("/proc/self/task"))
registry = ModelRegistry(Path(sys.argv[1]), threads=int(sys.argv[2]))
registry.load("u2netp").predict(np.zeros((1, 320, 320, 3), np.uint8))
started = cpu()
time.sleep(0.5)
print(len(os.listdir("/proc/self/task")) - before, cpu() - started)
"""


def test_model_threads_follow_the_setting_and_sleep_when_idle(settings):
    for threads in (1, 3):
        done = subprocess.run(
            [sys.executable, "-c", THREAD_PROBE, str(settings.u2net_home), str(threads)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        added, idle_cpu = done.stdout.split()
        assert int(added) == threads - 1  # the calling thread plus a pool of threads - 1 (inter-op: none)
        assert float(idle_cpu) < 0.01  # spinning threads would burn tens of ms in that half second
