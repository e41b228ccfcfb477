"""Peak resident memory of code run in a fresh Python: sees native (OpenCV, Pillow, numpy) memory too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

_PROBE = """
import json, re
def _status(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\\s+(\\d+)", f.read()).group(1)) / 1024
{setup}
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from the current RSS
_base = _status("VmRSS")
{code}
print(json.dumps({{"base": _base, "peak": _status("VmHWM")}}))
"""


def peak_rss_mb(code: str, setup: str = "", timeout: float = 120) -> tuple[float, float]:
    """(RSS after `setup`, peak RSS growth while `code` ran), in MiB, from the child's VmRSS and VmHWM."""
    script = _PROBE.format(setup=textwrap.dedent(setup), code=textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["base"], figures["peak"] - figures["base"]
