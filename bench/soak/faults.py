"""The soak's faults: a gunicorn worker SIGKILLed while it holds a connection, and Redis killed and started again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.soak.limits import LimitProbe
from bench.soak.processes import held_connections, open_fds, rss_mib
from tests.services import RedisServer, wait_for

HOLD_WAIT_S = 15  # how long a kill waits for its victim to hold a connection
RESPAWN_S = 60  # for the master to fork a replacement
READY_S = 120  # for the replacement to be up and the app ready
REDIS_DOWN_S = 5


@dataclass
class Kill:
    """A worker SIGKILLed, and what it held then."""

    at: float  # just before the signal
    done: float  # just after: a request ended by the kill may be seen ending before the conductor reads the clock
    pid: int
    held: list[str]
    replacement_ready_s: float | None = None


def kill_worker(
    victim: int,
    port: int,
    workers: Callable[[], list[int]],
    ready: Callable[[], bool],
    clock: Callable[[], float],
    kills: list[Kill],
    hold_wait_s: float = HOLD_WAIT_S,
) -> int:
    """SIGKILL `victim` once it holds a connection to `port` (or after `hold_wait_s` without one), add the kill to
    `kills` at once, and wait for the master to replace it and for `ready()`: the replacement's pid."""
    before = set(workers())
    deadline = time.monotonic() + hold_wait_s
    held = held_connections(victim, port)
    while not held and time.monotonic() < deadline:
        time.sleep(0.02)
        held = held_connections(victim, port)
    at = clock()
    os.kill(victim, signal.SIGKILL)
    kill = Kill(at, clock(), victim, held)
    kills.append(kill)
    wait_for(lambda: set(workers()) - before, RESPAWN_S, "a respawned worker")
    (new,) = set(workers()) - before
    wait_for(lambda: open_fds(new) and rss_mib(new) and ready(), READY_S, "the new worker")
    kill.replacement_ready_s = clock() - kill.at
    return new


def restart_redis(server: RedisServer, limits: LimitProbe) -> None:
    """Kill Redis, keep it down a few seconds (the limiter falls back to memory), start it again, empty."""
    assert server.proc is not None
    limits.check.redis_down_at = limits.clock()
    server.proc.kill()
    server.proc.wait(10)
    end = time.monotonic() + REDIS_DOWN_S
    while time.monotonic() < end:
        limits.check.during_outage[limits.probe().status_code] += 1
        time.sleep(0.5)
    server.start()
    limits.check.redis_up_at = limits.clock()
