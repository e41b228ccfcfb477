"""Peak resident memory of code run in a fresh Python: sees native (OpenCV, Pillow, numpy) memory too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

from tests.conftest import ROOT

_PROBE = """
import ctypes, gc, json, re

def _status(key):
    with open("/proc/self/status") as f:
        return int(re.search(key + r":\\s+(\\d+)", f.read()).group(1)) / 1024

exec({setup!r})
_figures = {{}}
for _name, _code in {cases!r}.items():
    _scope = dict(globals())
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # freed memory goes back to the system, so reusing it shows
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) starts again from the current RSS
    _base = _status("VmRSS")
    exec(_code, _scope)
    _figures[_name] = {{"base": _base, "growth": _status("VmHWM") - _base, "result": _scope.get("result")}}
    del _scope  # what the case made is freed before the next one
print(json.dumps(_figures))
"""


@dataclass
class Peak:
    """RSS before a case, its peak growth (MiB), and the JSON value the case left in `result`."""

    base: float
    growth: float
    result: object


def peak_rss(setup: str, cases: dict[str, str], timeout: float = 300) -> dict[str, Peak]:
    """Run `setup` once in a child Python, then each case from the same state; the peak RSS growth of each."""
    script = _PROBE.format(setup=textwrap.dedent(setup), cases={k: textwrap.dedent(v) for k, v in cases.items()})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {name: Peak(**values) for name, values in figures.items()}
