"""One soak: the clients and the conductor of the faults on the running stack, then the report."""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
import warnings
from pathlib import Path

from bench.soak import report
from bench.soak.faults import Kill, kill_worker, restart_redis
from bench.soak.limits import LIMITED_CLIENT, LimitCheck, LimitProbe
from bench.soak.processes import Sampler
from bench.soak.stack import Stack
from bench.soak.traffic import CASES, GRACE_S, MAIN_CLIENT, Inputs, Outcome, send, session_from
from tests.conftest import DATA

# when each fault comes, as a fraction of the run
LIMIT_BEFORE_AT, FIRST_KILL_AT, REDIS_RESTART_AT, SECOND_KILL_AT = 0.02, 0.15, 0.35, 0.75


class Soak:
    """The stack, the clients, the faults and what they saw."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.inputs = Inputs.load(DATA)
        self.stack = Stack(work, self.inputs, args.workers, args.threads)
        self.outcomes: list[Outcome] = []
        self.kills: list[Kill] = []
        self.limits = LimitCheck()
        self.sent = 0
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.cases = [c for c in CASES for _ in range(c.weight)]

    def clock(self) -> float:
        """Seconds since the traffic started."""
        return time.monotonic() - self.t0

    def client(self, seed: int) -> None:
        """One client: requests one after another, each case picked by weight, until the end or the cap."""
        rng = random.Random(seed)
        with session_from(MAIN_CLIENT) as session:
            while not self.stop.is_set():
                with self._lock:
                    if self.sent >= self.args.max_requests:
                        return
                    self.sent += 1
                case = rng.choice(self.cases)
                self.outcomes.append(send(session, self.stack.nginx.url, case, self.inputs, rng, self.clock))

    def at(self, fraction: float) -> None:
        """Wait until `fraction` of the run has passed."""
        self.stop.wait(max(0.0, fraction * self.args.seconds - self.clock()))

    def kill(self, victim: int) -> int:
        """SIGKILL a worker while it holds a connection (`kill_worker`); its replacement's pid."""
        stack = self.stack
        return kill_worker(victim, stack.app.port, stack.workers, stack.ready, self.clock, self.kills)

    def conductor(self) -> None:
        """The faults and the limit checks, at fixed points of the run."""
        with session_from(LIMITED_CLIENT) as session:
            limits = LimitProbe(session, self.stack.nginx.url, self.stack.redis.url, self.limits, self.clock)
            self.at(LIMIT_BEFORE_AT)
            limits.before()
            self.at(FIRST_KILL_AT)
            replacement = self.kill(min(self.stack.workers()))
            self.at(REDIS_RESTART_AT)
            restart_redis(self.stack.redis, limits)
            limits.after()
            self.at(SECOND_KILL_AT)
            if self.stop.is_set():
                raise RuntimeError("the run ended before the second kill: give it more --seconds")
            self.kill(replacement)  # the same slot again: the other worker lives through the whole run

    def run(self) -> int:
        """Start the stack, send the traffic and the faults for `--seconds`, print the report: 1 on any failure."""
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
        with self.stack.running() as stack:
            load_start = os.getloadavg()
            self.t0 = time.monotonic()
            with Sampler(stack.roles, self.clock) as sampler:
                clients = [
                    threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(self.args.concurrency)
                ]
                conductor_failure: list[BaseException] = []

                def conduct() -> None:
                    try:
                        self.conductor()
                    except BaseException as exc:  # reported, and a failed run
                        conductor_failure.append(exc)

                faults = threading.Thread(target=conduct, daemon=True)
                for thread in [*clients, faults]:
                    thread.start()
                self.stop.wait(self.args.seconds)
                self.stop.set()
                grace = time.monotonic() + GRACE_S
                for thread in [*clients, faults]:
                    thread.join(max(0.0, grace - time.monotonic()))
                hung = [t for t in [*clients, faults] if t.is_alive()]
                elapsed = self.clock()
            seen = report.Observed(
                concurrency=self.args.concurrency,
                workers=self.args.workers,
                layout=stack.layout,
                outcomes=self.outcomes,
                kills=self.kills,
                limits=self.limits,
                processes=list(sampler.processes.values()),
                elapsed=elapsed,
                hung=len(hung),
                conductor_failure=repr(conductor_failure[0]) if conductor_failure else "",
                load_start=load_start,
                load_end=os.getloadavg(),
                app_log=stack.app_log,
                nginx_error_log=stack.nginx.dir / "error.log",
                nginx_access_log=stack.nginx.access_log,
            )
            result = report.build(seen)
        print(result["text"])
        if self.args.json:
            self.args.json.write_text(json.dumps({k: v for k, v in result.items() if k != "text"}, indent=2))
        return 1 if result["failures"] else 0
