"""What a benchmark ran on, for every dated figure: the CPU, the flags that decide the precision, cores and RAM."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from bgremover.models.backends import cpu_flags

SHOWN_FLAGS = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni", "avx_vnni"}


def describe() -> str:
    """E.g. 'AMD EPYC (avx2, avx512_bf16, …), 2 cores, 24 GiB RAM, Python 3.11.7'."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    flags = ", ".join(sorted(cpu_flags() & SHOWN_FLAGS)) or "no AVX2"
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20 if Path("/proc/meminfo").exists() else 0
    return (
        f"{names[0] if names else platform.machine()} ({flags}), {os.cpu_count()} cores, {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}"
    )
