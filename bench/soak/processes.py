"""The stack's processes as /proc shows them: children, RSS, open descriptors, held connections; a sampler through
the run, and the RSS slope after warm-up that tells a slow leak from a high-water mark."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_EVERY_S = 5
WARM_UP = 0.25  # the first quarter of a process's samples: models loading, the first requests' high-water mark


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def rss_mib(pid: int) -> float | None:
    """Resident memory of one process (MiB), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def open_fds(pid: int) -> int | None:
    """How many file descriptors a process has open, None once it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def held_connections(pid: int, port: int) -> list[str]:
    """The accepted connections to `port` that `pid` has open.

    A sync worker holds one while it serves a request, and none between requests. A gthread worker holds
    one per request it serves or has queued for a thread, and also nginx's idle keep-alive connections
    (which nginx, on finding one dead, retries elsewhere without an error): an upper bound.
    """
    inodes = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    held = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
        if inode in inodes and int(local.split(":")[1], 16) == port and state == "01":  # ESTABLISHED
            held.append(f"127.0.0.1:{int(remote.split(':')[1], 16)}")
    return held


def after_warm_up(samples: list[tuple[float, float]], warm_up: float = WARM_UP) -> list[tuple[float, float]]:
    """The samples after the first `warm_up` of the time they span."""
    if not samples:
        return []
    start = samples[0][0]
    return [(t, v) for t, v in samples if t >= start + warm_up * (samples[-1][0] - start)]


def rss_slope(samples: list[tuple[float, float]], warm_up: float = WARM_UP) -> float | None:
    """Least-squares slope of (seconds, RSS MiB) samples after warm-up, in MiB per hour; None with under two times.

    Near 0 once the RSS has reached a high-water mark and stays there; a steady leak keeps its slope however long
    the run, while a high-water mark's last step counts for less the longer the run goes on after it.
    """
    kept = after_warm_up(samples, warm_up)
    if len({t for t, _ in kept}) < 2:
        return None
    return statistics.linear_regression([t for t, _ in kept], [v for _, v in kept]).slope * 3600


@dataclass
class ProcessFigures:
    """A process's role, and its RSS and open fds when first and last seen."""

    role: str
    pid: int
    rss_start: float | None = None
    rss_end: float | None = None
    rss_max: float = 0.0
    fds_start: int | None = None
    fds_end: int | None = None
    first_seen: float = 0.0
    last_seen: float = 0.0
    fate: str = "ran to the end"
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MiB), every sample

    def rss_at(self, t: float) -> float:
        """RSS at the first sample at or after `t` seconds."""
        return next((rss for at, rss in self.timeline if at >= t), self.timeline[-1][1])

    def rss_slope(self) -> float | None:
        """RSS slope after warm-up in MiB per hour (`rss_slope`)."""
        return rss_slope(self.timeline)


class Sampler:
    """Samples RSS and fds of the stack's processes every few seconds; workers come and go."""

    def __init__(self, roles: Callable[[], dict[int, str]], clock: Callable[[], float]) -> None:
        self.roles, self.clock = roles, clock
        self.processes: dict[int, ProcessFigures] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def sample(self) -> None:
        """Take one sample of every live process of the stack."""
        now = self.clock()
        with self._lock:
            for pid, role in self.roles().items():
                rss, fds = rss_mib(pid), open_fds(pid)
                if rss is None or fds is None:
                    continue
                figures = self.processes.setdefault(pid, ProcessFigures(role, pid, rss, None, 0.0, fds, None, now))
                figures.rss_end, figures.fds_end, figures.last_seen = rss, fds, now
                figures.rss_max = max(figures.rss_max, rss)
                figures.timeline.append((now, rss))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.sample()
