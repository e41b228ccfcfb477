"""bgremover.probe, run as the exec probes run it (`python -m bgremover.probe PATH`) against a loopback server."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from bgremover.settings import Settings
from tests.services import ROOT, free_port

ANSWERS = {"/health/ready": 200, "/health/live": 200, "/starting": 503}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(ANSWERS.get(self.path, 404))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def probe(*args: str, port: int | str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORT": str(port)}
    command = [sys.executable, "-m", "bgremover.probe", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", ["/health/ready", "/health/live"])
def test_a_200_passes_quietly(server, path):
    done = probe(path, port=server)
    assert (done.returncode, done.stderr) == (0, "")


def test_another_status_fails_saying_which(server):
    done = probe("/starting", port=server)
    assert (done.returncode, done.stderr.strip()) == (1, "GET /starting: 503")
    assert probe("/nowhere", port=server).stderr.strip() == "GET /nowhere: 404"


def test_no_server_fails_without_a_traceback():
    done = probe("/health/ready", port=free_port())
    assert done.returncode == 1 and done.stderr.startswith("GET /health/ready: ") and "Traceback" not in done.stderr


def test_a_bad_port_or_usage_fails_without_a_traceback():
    bad_port = probe("/health/ready", port="http")
    assert bad_port.returncode == 1 and bad_port.stderr.startswith("GET /health/ready: ")
    assert "Traceback" not in bad_port.stderr
    for args in ([], ["health/ready"], ["/a", "/b"]):
        done = probe(*args, port=1)
        assert (done.returncode, done.stderr.strip()) == (2, "usage: python -m bgremover.probe /PATH")


def test_without_port_it_asks_the_settings_default(monkeypatch):
    from bgremover import probe as module

    monkeypatch.delenv("PORT", raising=False)
    assert module.port() == Settings.model_fields["port"].default
    monkeypatch.setenv("PORT", "6001")
    assert module.port() == 6001
