"""The soak's one worker kill, on a real forking master: it waits for a held connection, SIGKILLs, and returns
the replacement once the master has forked it and it is ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from bench.soak.faults import Kill, kill_worker
from bench.soak.processes import children, rss_mib

# A pre-fork master like gunicorn's arbiter, cut to the bone: one worker accepts on the shared socket and holds
# every connection; when it dies, the master forks another.
MASTER = """
import os, socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    pid = os.fork()
    if pid == 0:
        held = []
        while True:
            held.append(server.accept()[0])
    os.waitpid(pid, 0)
"""


class Master:
    """The forking master's process and port, and its current workers."""

    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port

    def workers(self) -> list[int]:
        return children(self.proc.pid)


@pytest.fixture
def master() -> Iterator[Master]:
    proc = subprocess.Popen([sys.executable, "-c", MASTER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        m = Master(proc, int(proc.stdout.readline()))
        deadline = time.monotonic() + 10
        while not m.workers() and time.monotonic() < deadline:
            time.sleep(0.02)
        yield m
    finally:
        for pid in children(proc.pid):
            os.kill(pid, 9)
        proc.kill()
        proc.wait(10)


def clock() -> float:
    return time.monotonic()


def test_the_kill_waits_for_a_held_connection_and_returns_the_ready_replacement(master):
    (victim,) = master.workers()
    kills: list[Kill] = []
    client: list[socket.socket] = []

    def connect_later() -> None:
        time.sleep(0.5)  # the kill must wait for it
        client.append(socket.create_connection(("127.0.0.1", master.port)))

    threading.Thread(target=connect_later, daemon=True).start()
    started = clock()
    new = kill_worker(victim, master.port, master.workers, lambda: True, clock, kills, hold_wait_s=10)
    try:
        (kill,) = kills
        assert kill.pid == victim and kill.at - started >= 0.5
        assert kill.held == [f"127.0.0.1:{client[0].getsockname()[1]}"]
        assert kill.at <= kill.done and kill.replacement_ready_s is not None and kill.replacement_ready_s > 0
        assert master.workers() == [new] and new != victim
        assert rss_mib(victim) is None  # gone (or a zombie, which has no memory)
        assert client[0].recv(1) == b""  # the connection the victim held is gone with it
    finally:
        client[0].close()


def test_with_nothing_held_the_kill_comes_after_the_wait_and_waits_for_ready(master):
    (victim,) = master.workers()
    kills: list[Kill] = []
    answers = iter([False, False, True])  # ready only at the third asking
    new = kill_worker(victim, master.port, master.workers, lambda: next(answers), clock, kills, hold_wait_s=0.3)
    (kill,) = kills
    assert kill.held == [] and new != victim and master.workers() == [new]
    assert next(answers, "asked no more") == "asked no more"  # it asked until ready, then stopped


def test_the_same_routine_kills_the_replacement(master):
    kills: list[Kill] = []
    first = kill_worker(master.workers()[0], master.port, master.workers, lambda: True, clock, kills, hold_wait_s=0.1)
    second = kill_worker(first, master.port, master.workers, lambda: True, clock, kills, hold_wait_s=0.1)
    assert [k.pid for k in kills] == [kills[0].pid, first] and second not in (first, kills[0].pid)
    assert kills[0].at < kills[1].at
