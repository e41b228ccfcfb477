"""Production stack on loopback: real nginx → two gunicorn nodes → one Redis, started and stopped here."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
import requests
from PIL import Image

from tests.services import AppServer, NginxServer, RedisServer, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]


@pytest.fixture(scope="module")
def small_jpeg(data_dir) -> bytes:
    """A 320-px photo: cheap enough to send many times."""
    img = Image.open(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg").convert("RGB")
    img.thumbnail((320, 320))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, data_dir):
    work = tmp_path_factory.mktemp("stack")
    served = work / "served"
    served.mkdir()
    (served / "car.jpg").write_bytes((data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg").read_bytes())
    redis = RedisServer(work).start()
    env = {
        "REDIS_URL": redis.url,
        "TRUSTED_PROXY_HOPS": "1",
        "READ_FILE_DIR": str(served),
        "RATE_LIMIT_READ_FILE_PER_HOUR": "4",
        "RATE_LIMIT_PREVIEW_PER_HOUR": "100000",
        "RATE_LIMIT_REMOVE_BG_PER_HOUR": "100000",
    }
    nodes = [AppServer(env, work) for _ in range(2)]
    nginx = NginxServer(work, [f"127.0.0.1:{n.port}" for n in nodes])
    try:
        for node in nodes:
            node.start()
        nginx.start()
        yield {"nginx": nginx, "nodes": nodes, "redis": redis, "work": work}
    finally:
        nginx.stop()
        for node in nodes:
            node.stop()
        redis.stop()


def https(stack, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{stack['nginx'].url}{path}", verify=False, timeout=60, **kw)


def preview(stack, jpeg: bytes) -> requests.Response:
    return https(stack, "POST", "/remove-background-preview", files={"file": ("p.jpg", jpeg, "image/jpeg")})


def test_nginx_accepts_the_configuration(stack):
    done = stack["nginx"].check_config()
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_cutout_through_nginx_with_security_headers(stack, small_jpeg):
    r = https(stack, "POST", "/remove-background", files={"file": ("p.jpg", small_jpeg, "image/jpeg")})
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).mode == "RGBA"
    assert "max-age=" in r.headers["Strict-Transport-Security"]
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Server"] == "nginx"  # no version
    page = https(stack, "GET", "/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers


def test_http_redirects_to_https(stack):
    r = requests.get(f"http://localhost:{stack['nginx'].http_port}/health", allow_redirects=False, timeout=5)
    assert r.status_code == 301 and r.headers["Location"].startswith("https://localhost:")


def test_static_files_are_served_by_nginx_with_long_caching(stack):
    r = https(stack, "GET", "/static/style.css")
    assert r.status_code == 200 and "X-Request-ID" not in r.headers  # never reached the app
    assert "max-age=31536000" in r.headers["Cache-Control"]


def test_health_is_not_logged(stack):
    https(stack, "GET", "/health")
    https(stack, "GET", "/api/presets")
    log = stack["nginx"].access_log.read_text()
    assert "/api/presets" in log and "/health" not in log
    json.loads(log.strip().splitlines()[-1])  # JSON access log


def test_rate_limit_is_global_across_nodes_and_spoofing_does_not_help(stack):
    codes, upstreams = [], set()
    for i in range(6):
        r = https(stack, "POST", "/read-file", json={"path": "car.jpg"}, headers={"X-Forwarded-For": f"10.9.9.{i}"})
        codes.append(r.status_code)
    assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]
    for line in stack["nginx"].access_log.read_text().splitlines():
        entry = json.loads(line)
        if entry["uri"] == "/read-file" and entry["status"] == 200:
            upstreams.add(entry["upstream"])
    assert len(upstreams) == 2, "both nodes should have served part of the limited requests"
    body = https(stack, "POST", "/read-file", json={"path": "car.jpg"}).json()
    assert body["code"] == "rate_limited"


def test_body_over_the_limit_gets_nginx_413_as_json(stack):
    r = https(
        stack,
        "POST",
        "/remove-background",
        data=b"\0" * (20 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["code"] == "payload_too_large" and body["request_id"]


def test_slow_upload_does_not_hold_a_worker(stack, small_jpeg):
    """A client trickling its body at 1 KB/s: nginx buffers it, so the app stays free for others."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", stack["nginx"].https_port))
    slow = ctx.wrap_socket(raw, server_hostname="localhost")
    slow.sendall(
        b"POST /remove-background HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                slow.sendall(b"\0" * 1024)
            except OSError:
                return
            time.sleep(1)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        time.sleep(2)
        for _ in range(3):  # both nodes have a single worker: these would queue behind a held worker
            started = time.monotonic()
            assert preview(stack, small_jpeg).status_code == 200
            assert time.monotonic() - started < 10
    finally:
        stop.set()
        slow.close()
        thread.join(5)


def _load(stack, jpeg: bytes, seconds: float, results: list, stop: threading.Event) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stop.is_set():
        try:
            r = preview(stack, jpeg)
            results.append((r.status_code, r.headers.get("Content-Type", "")))
        except requests.RequestException as exc:
            results.append((0, type(exc).__name__))


def test_kill_a_worker_and_the_master_respawns_it(stack, small_jpeg):
    node = stack["nodes"][1]
    workers = subprocess.run(["pgrep", "-P", str(node.proc.pid)], capture_output=True, text=True).stdout.split()
    assert workers, "gunicorn master has no worker"
    os.kill(int(workers[0]), signal.SIGKILL)
    wait_for(
        lambda: (
            subprocess.run(["pgrep", "-P", str(node.proc.pid)], capture_output=True, text=True).stdout.split()
            not in ([], workers)
        ),
        30,
        "a respawned worker",
    )
    wait_for(lambda: requests.get(f"{node.url}/health/ready", timeout=2).ok, 30, "the new worker")
    r = requests.post(f"{node.url}/remove-background-preview", files={"file": ("p.jpg", small_jpeg)}, timeout=30)
    assert r.status_code == 200


def test_kill_9_a_node_under_load(stack, small_jpeg):
    victim = stack["nodes"][0]
    results: list = []
    stop = threading.Event()
    threads = [threading.Thread(target=_load, args=(stack, small_jpeg, 12, results, stop)) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        os.killpg(victim.proc.pid, signal.SIGKILL)
        for t in threads:
            t.join(60)
    finally:
        stop.set()
        victim.proc.wait(10)
        victim.start()  # leave the stack whole for other tests
    failures = [r for r in results if r[0] != 200]
    assert len(results) > 10
    assert len(failures) <= 3, failures  # at most the requests in flight when the node died
    assert all(code >= 500 and "application/json" in kind for code, kind in failures), failures
    late = results[-5:]
    assert all(code == 200 for code, _ in late)


def test_max_requests_recycling_under_load_loses_nothing(tmp_path, small_jpeg, stack):
    node = AppServer(
        {
            "GUNICORN_CMD_ARGS": "--max-requests 4 --max-requests-jitter 1",
            "WEB_CONCURRENCY": "2",
            "RATELIMIT_ENABLED": "false",
        },
        tmp_path,
    ).start()
    try:
        results: list = []

        def hit():
            for _ in range(8):
                r = requests.post(
                    f"{node.url}/remove-background-preview", files={"file": ("p.jpg", small_jpeg)}, timeout=60
                )
                results.append(r.status_code)

        threads = [threading.Thread(target=hit) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert results == [200] * 24
        assert node.log.read_text().count("Autorestarting worker") >= 3
    finally:
        node.stop()
