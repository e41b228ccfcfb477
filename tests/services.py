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

from nginx.render import Flood, nginx_version, render

ROOT = Path(__file__).resolve().parents[1]
# Load tests and the soak send far more than a client should: an nginx with these limits lets them through.
LOAD_TEST_FLOOD = Flood(rate="1000r/s", burst=1000, post_rate="1000r/s", post_burst=1000, connections=100)


def require_binary(name: str, *extra_dirs: str) -> str:
    """The binary's path; skip when it is missing, except under CI=true where that is a failure."""
    path = shutil.which(name) or next((str(Path(d) / name) for d in extra_dirs if (Path(d) / name).exists()), None)
    if path:
        return path
    reason = f"{name} is not installed (Debian package; see docs/operations.md, 'Tests')"
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
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=0.5)
        try:
            wait_for(client.ping, 10, "redis-server")
        except TimeoutError:
            self.stop()
            raise
        return self

    def keys(self, pattern: str = "*") -> list[bytes]:
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=1).keys(pattern)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class AppServer:
    """The real app under gunicorn (gunicorn.conf.py, or the given command) with the given environment."""

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        port: int | None = None,
        command: list[str] | None = None,
        cwd: Path = ROOT,
        base_env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.command = command or [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            str(ROOT / "gunicorn.conf.py"),
        ]
        self.cwd = cwd
        self.env = {
            **(os.environ if base_env is None else base_env),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "PROMETHEUS_MULTIPROC_DIR": "",
            **env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR")
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.log = workdir / f"gunicorn-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> AppServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # a long timeout per poll: polls that time out stay queued and would each count towards max_requests
            wait_for(lambda: requests.get(f"{self.url}/health/ready", timeout=10).ok, timeout, "gunicorn")
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class NginxServer:
    """Real nginx in front of app nodes, with the project's site (nginx/render.py) and a self-signed cert."""

    def __init__(
        self,
        workdir: Path,
        upstreams: list[str],
        max_body: str = "16m",
        flood: Flood | None = None,
        name: str = "nginx",
        read_timeout: str = "130s",
    ) -> None:
        self.binary = require_binary("nginx", "/usr/sbin")
        openssl = require_binary("openssl")
        self.dir = workdir / name
        (self.dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-keyout",
                str(self.key),
                "-out",
                str(self.cert),
            ],
            check=True,
            capture_output=True,
        )
        self.version = nginx_version(self.binary)
        assert self.version is not None, f"cannot read the version of {self.binary}"

        self.access_log = self.dir / "access.log"
        (self.dir / "site.conf").write_text(
            render(
                upstreams,
                server_name="localhost",
                http_port=self.http_port,
                https_port=self.https_port,
                tls_cert=str(self.cert),
                tls_key=str(self.key),
                max_body=max_body,
                access_log=str(self.access_log),
                read_timeout=read_timeout,
                version=self.version,
                flood=flood or Flood(),
            )
        )
        user = "user root;\n" if os.geteuid() == 0 else ""
        tmp = self.dir / "tmp"
        (self.dir / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {self.dir / 'nginx.pid'};\nerror_log {self.dir / 'error.log'} warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
            f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
            f"  include {self.dir / 'site.conf'};\n}}\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def check_config(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, "-t", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
            capture_output=True,
            text=True,
            check=False,
        )

    def start(self) -> NginxServer:
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(lambda: requests.get(f"{self.url}/static/style.css", verify=False, timeout=1).ok, 15, "nginx")
        except TimeoutError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
