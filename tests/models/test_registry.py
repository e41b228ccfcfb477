"""The model registry: models with explicit, non-spinning threads on either backend (real u2netp); the models it
refuses to load, and why."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bgremover.errors import ModelUnavailable
from bgremover.models.catalog import UNSERVED
from bgremover.models.registry import ModelRegistry
from bgremover.settings import load_settings

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


def test_a_non_commercial_model_is_refused_until_its_terms_are_accepted(tmp_path):
    """bria-rmbg's licence (CC BY-NC 4.0) stops the start naming the setting; accepted, the missing file is named."""
    refused = ModelRegistry.from_settings(load_settings(_env_file=None, u2net_home=tmp_path))
    with pytest.raises(ModelUnavailable, match=r"CC-BY-NC-4.0.*set ACCEPT_NONCOMMERCIAL_MODELS=true"):
        refused.load("bria-rmbg")
    accepted = load_settings(_env_file=None, u2net_home=tmp_path, accept_noncommercial_models=True)
    with pytest.raises(ModelUnavailable, match=r"not in .*Run `bgremover models fetch bria-rmbg`"):
        ModelRegistry.from_settings(accepted).load("bria-rmbg")
    with pytest.raises(ModelUnavailable, match=r"not in .*Run `bgremover models fetch birefnet-general`"):
        refused.load("birefnet-general")  # MIT: no terms to accept


@pytest.mark.parametrize("name", ["withoutbg", "sam", "u2net_custom"])
def test_a_rembg_session_not_served_here_says_why(tmp_path, name):
    said = re.escape(f"Model '{name}' is not served here: it {UNSERVED[name].reason}")
    with pytest.raises(ModelUnavailable, match=said):
        ModelRegistry(tmp_path).load(name)
