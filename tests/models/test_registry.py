"""The model registry: models with explicit, non-spinning threads on either backend (real u2netp)."""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh process: the threads a loaded model adds, and the CPU its process burns while idle after a run.
THREAD_PROBE = """
import os, resource, sys, time
from pathlib import Path
import numpy as np, onnxruntime, openvino
from bgremover.models.registry import ModelRegistry
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
before = len(os.listdir("/proc/self/task"))
registry = ModelRegistry(Path(sys.argv[1]), threads=int(sys.argv[2]), backend=sys.argv[3])
registry.load("u2netp").predict(np.zeros((1, 320, 320, 3), np.uint8))
started = cpu()
time.sleep(0.5)
print(len(os.listdir("/proc/self/task")) - before, cpu() - started)
"""


def probe(settings, threads: int, backend: str) -> tuple[int, float]:
    done = subprocess.run(
        [sys.executable, "-c", THREAD_PROBE, str(settings.u2net_home), str(threads), backend],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    added, idle_cpu = done.stdout.split()
    return int(added), float(idle_cpu)


@pytest.mark.parametrize("threads", [1, 3])
def test_onnxruntime_threads_follow_the_setting_and_sleep_when_idle(settings, threads):
    added, idle_cpu = probe(settings, threads, "onnxruntime")
    assert added == threads - 1  # the calling thread plus a pool of threads - 1 (inter-op: none)
    assert idle_cpu < 0.01  # spinning threads would burn tens of ms in that half second


@pytest.mark.parametrize("threads", [1, 2])
def test_openvino_threads_are_bounded_and_sleep_when_idle(settings, threads):
    added, idle_cpu = probe(settings, threads, "openvino")
    assert 1 <= added <= threads + 1  # measured: threads + 1 (its thread pool and one of OpenVINO's own)
    assert idle_cpu < 0.01
