"""The soak's stack on loopback: Redis, the app under gunicorn with its workers warm, and nginx in front."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from bench.soak.limits import PROBE_LIMIT
from bench.soak.processes import children
from bench.soak.traffic import PREVIEW, Inputs, encode
from bgremover.settings import load_settings
from tests.services import LOAD_TEST_FLOOD, AppServer, NginxServer, RedisServer, wait_for

HIGH_LIMIT = 1_000_000  # counted in Redis like any limit, never reached in a soak
SOAKED_LIMITS = ("REMOVE_BG", "PREVIEW", "BASE64", "BATCH", "REMOVEBG", "REMBG")  # the endpoints the traffic sends to


class Stack:
    """Redis, gunicorn (`workers` × `threads`, recycling off) and nginx, started in `work` and stopped on exit."""

    def __init__(self, work: Path, inputs: Inputs, workers: int, threads: int | None) -> None:
        self.work, self.inputs, self.n_workers, self.threads = work, inputs, workers, threads
        self.app_log = work / "app.log"
        self.layout: dict[str, Any] = {}

    def env(self, served: Path) -> dict[str, str]:
        """The app's environment: high limits for the soaked endpoints, the probe's for /read-file, no recycling."""
        return {
            "TRUSTED_PROXY_HOPS": "1",
            "WEB_CONCURRENCY": str(self.n_workers),
            **({"WORKER_THREADS": str(self.threads)} if self.threads else {}),
            "RATELIMIT_ENABLED": "true",
            **{f"RATE_LIMIT_{name}_PER_HOUR": str(HIGH_LIMIT) for name in SOAKED_LIMITS},
            "RATE_LIMIT_READ_FILE_PER_HOUR": str(PROBE_LIMIT),
            "READ_FILE_DIR": str(served),
            "LOG_FILE": str(self.app_log),
            # no recycling: a leak shows as growth instead of being reset every 1000 requests
            "GUNICORN_CMD_ARGS": "--max-requests 0",
        }

    @contextlib.contextmanager
    def running(self) -> Iterator[Stack]:
        """Start everything, wait for every worker and warm each; stop it all on the way out."""
        served = self.work / "served"
        served.mkdir()
        probe = Image.open(io.BytesIO(self.inputs.photos[0]))
        probe.thumbnail((160, 160))
        (served / "probe.jpg").write_bytes(encode(probe, "JPEG"))
        with contextlib.ExitStack() as started:
            self.redis = RedisServer(self.work)
            started.callback(self.redis.stop)
            self.redis.start()
            self.app = AppServer({**self.env(served), "REDIS_URL": self.redis.url}, self.work)
            started.callback(self.app.stop)
            self.nginx = NginxServer(self.work, [f"127.0.0.1:{self.app.port}"], flood=LOAD_TEST_FLOOD)
            started.callback(self.nginx.stop)
            self.app.start(timeout=300)
            self.nginx.start()
            wait_for(lambda: len(self.workers()) == self.n_workers, 60, "every worker")
            health = requests.get(f"{self.app.url}/health", timeout=30).json()
            threads = self.threads or load_settings(_env_file=None).worker_threads
            models = health["checks"]["model"]
            self.layout = {"threads": threads, "models": models["loaded"], "inference": models["inference"]}
            for _ in range(self.n_workers * 2):  # every worker warm before the clock starts
                requests.post(f"{self.app.url}{PREVIEW}", files={"file": ("w.jpg", self.inputs.photos[0])}, timeout=300)
            yield self

    def workers(self) -> list[int]:
        """The gunicorn workers' pids."""
        return children(self.app.proc.pid) if self.app.proc else []

    def ready(self) -> bool:
        """Whether the app answers its readiness check."""
        return requests.get(f"{self.app.url}/health/ready", timeout=30).ok

    def roles(self) -> dict[int, str]:
        """Every live process of the stack, by pid, with its role."""
        roles = {self.app.proc.pid: "gunicorn master"} if self.app.proc else {}
        roles |= {pid: "gunicorn worker" for pid in self.workers()}
        if self.nginx.proc:
            roles[self.nginx.proc.pid] = "nginx master"
            roles |= {pid: "nginx worker" for pid in children(self.nginx.proc.pid)}
        if self.redis.proc and self.redis.proc.poll() is None:
            roles[self.redis.proc.pid] = "redis-server"
        return roles
