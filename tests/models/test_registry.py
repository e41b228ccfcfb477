"""The model registry: sessions with explicit, non-spinning threads (real u2netp)."""

from __future__ import annotations

import subprocess
import sys


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
