"""Real server processes for tests: redis-server and gunicorn on free loopback ports, started and stopped here."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def require_binary(name: str, *extra_dirs: str) -> str:
    """The binary's path; skip when it is missing, except under CI=true where that is a failure."""
    path = shutil.which(name) or next((str(Path(d) / name) for d in extra_dirs if (Path(d) / name).exists()), None)
    if path:
        return path
    reason = f"{name} is not installed (Debian package; see README 'Tests')"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str) -> None:
    """Poll `check()` until it is truthy or fail with `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout}s")


class RedisServer:
    """A throwaway redis-server with no persistence."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("redis-server")
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        wait_for(client.ping, 10, "redis-server")
        return self

    def keys(self, pattern: str = "*") -> list[bytes]:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=1).keys(pattern)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class AppServer:
    """The real app under gunicorn (gunicorn.conf.py) with the given environment."""

    def __init__(self, env: dict[str, str], workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": "1",
                    "PROMETHEUS_MULTIPROC_DIR": "", **env}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR")
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.log = workdir / f"gunicorn-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> AppServer:
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([gunicorn, "-c", str(ROOT / "gunicorn.conf.py")], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: requests.get(f"{self.url}/health/ready", timeout=1).ok, timeout, "gunicorn")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
