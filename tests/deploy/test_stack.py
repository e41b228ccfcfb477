"""Production stack on loopback: real nginx → two gunicorn nodes → one Redis, started and stopped here."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from nginx.render import Flood
from tests.services import LOAD_TEST_FLOOD, AppServer, NginxServer, RedisServer, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]


@pytest.fixture(scope="module")
def small_jpeg(data_dir) -> bytes:
    """A 320-px photo: cheap enough to send many times."""
    img = Image.open(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg").convert("RGB")
    img.thumbnail((320, 320))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


@contextlib.contextmanager
def running_stack(work: Path, data_dir: Path) -> Iterator[dict]:
    """Redis, two app nodes and nginx; whatever started is stopped, even when a later part skips or fails."""
    served = work / "served"
    served.mkdir()
    (served / "car.jpg").write_bytes((data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg").read_bytes())
    env = {
        "TRUSTED_PROXY_HOPS": "1",
        "READ_FILE_DIR": str(served),
        "RATE_LIMIT_READ_FILE_PER_HOUR": "4",
        "RATE_LIMIT_PREVIEW_PER_HOUR": "100000",
        "RATE_LIMIT_REMOVE_BG_PER_HOUR": "100000",
    }
    with contextlib.ExitStack() as started:
        redis = RedisServer(work)
        started.callback(redis.stop)
        redis.start()
        nodes = [AppServer({**env, "REDIS_URL": redis.url}, work) for _ in range(2)]
        for node in nodes:
            started.callback(node.stop)
        nginx = NginxServer(work, [f"127.0.0.1:{n.port}" for n in nodes], flood=LOAD_TEST_FLOOD)
        started.callback(nginx.stop)
        for node in nodes:
            node.start()
        nginx.start()
        yield {"nginx": nginx, "nodes": nodes, "redis": redis, "work": work}


@pytest.fixture(scope="module")
def stack(tmp_path_factory, data_dir):
    with running_stack(tmp_path_factory.mktemp("stack"), data_dir) as parts:
        yield parts


def test_a_stack_that_skips_half_way_leaves_no_process(tmp_path, data_dir, monkeypatch):
    import tests.services

    real = tests.services.require_binary
    redis_servers: list[RedisServer] = []

    def no_nginx(name: str, *extra: str) -> str:
        if name == "nginx":
            pytest.skip("nginx pretended missing")
        return real(name, *extra)

    class RecordedRedis(RedisServer):
        def start(self) -> RedisServer:
            redis_servers.append(self)
            return super().start()

    monkeypatch.setattr(tests.services, "require_binary", no_nginx)
    monkeypatch.setattr(f"{__name__}.RedisServer", RecordedRedis)
    with pytest.raises(pytest.skip.Exception), running_stack(tmp_path, data_dir):
        pass
    assert len(redis_servers) == 1 and redis_servers[0].proc is not None
    assert redis_servers[0].proc.poll() is not None, "redis-server still running"


def https(stack, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{stack['nginx'].url}{path}", verify=False, timeout=60, **kw)


def preview(stack, jpeg: bytes) -> requests.Response:
    return https(stack, "POST", "/remove-background-preview", files={"file": ("p.jpg", jpeg, "image/jpeg")})


def test_nginx_accepts_the_configuration(stack):
    done = stack["nginx"].check_config()
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_the_default_flood_limits_pass_nginx_t(stack):
    defaults = NginxServer(stack["work"], ["127.0.0.1:9"], name="nginx-defaults")  # rendered, never started
    done = defaults.check_config()
    assert done.returncode == 0, done.stderr
    site = (defaults.dir / "site.conf").read_text()
    assert f"rate={Flood().rate};" in site and f"limit_conn bgremover_conn {Flood().connections};" in site


def test_nginx_speaks_http2(stack):
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with (
        socket.create_connection(("127.0.0.1", stack["nginx"].https_port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"


def test_metrics_are_not_proxied(stack):
    for headers in ({}, {"X-Forwarded-For": "127.0.0.1"}):
        r = https(stack, "GET", "/metrics", headers=headers)
        assert r.status_code == 403 and r.headers["Content-Type"].startswith("application/json")
        assert r.json()["code"] == "forbidden" and r.json()["request_id"]
        assert "X-Request-ID" not in r.headers  # answered by nginx, never reached a node
        assert "max-age=" in r.headers["Strict-Transport-Security"]


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
    refused = https(stack, "POST", "/read-file", json={"path": "car.jpg"})
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 60  # the app's own, alone: nginx adds none to an upstream 429


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


# ---- nginx's own flood limits, tight enough to reach in a test --------------------------------------------------

TIGHT = Flood(rate="2r/s", burst=4, post_rate="1r/s", post_burst=2, connections=3)


@pytest.fixture(scope="module")
def tight(stack):
    """A second nginx with small flood limits in front of the same nodes."""
    nginx = NginxServer(stack["work"], [f"127.0.0.1:{n.port}" for n in stack["nodes"]], flood=TIGHT, name="tight")
    try:
        yield nginx.start()
    finally:
        nginx.stop()


def assert_nginx_429(r: requests.Response) -> None:
    assert r.status_code == 429 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["code"] == "rate_limited" and body["request_id"] and body["error"]
    assert r.headers["Retry-After"] == "1" and "X-Request-ID" not in r.headers  # nginx's answer, not a node's
    assert "max-age=" in r.headers["Strict-Transport-Security"]


def limited_by(nginx: NginxServer, zone: str) -> int:
    """How many refusals nginx logged for a zone."""
    return (nginx.dir / "error.log").read_text().count(f'zone "{zone}"')


def test_too_many_connections_at_once_get_a_json_429(tight):
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    held = []
    try:
        for _ in range(TIGHT.connections):  # requests in progress: headers sent, body never comes
            tls = ctx.wrap_socket(
                socket.create_connection(("127.0.0.1", tight.https_port)), server_hostname="localhost"
            )
            tls.sendall(b"PUT /health/live HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
            held.append(tls)
        time.sleep(0.5)
        assert_nginx_429(requests.get(f"{tight.url}/health/live", verify=False, timeout=10))
        assert limited_by(tight, "bgremover_conn") >= 1
    finally:
        for tls in held:
            tls.close()
    time.sleep(0.5)
    assert requests.get(f"{tight.url}/health/live", verify=False, timeout=10).status_code == 200


def test_a_flood_of_requests_gets_json_429_from_nginx(tight):
    time.sleep(3)  # let the previous test's requests drain from the zone
    with requests.Session() as session:
        started = time.monotonic()
        answers = [session.get(f"{tight.url}/health/live", verify=False, timeout=10) for _ in range(20)]
        elapsed = time.monotonic() - started
    passed = [r for r in answers if r.status_code == 200]
    refused = [r for r in answers if r.status_code != 200]
    assert refused, f"20 requests in {elapsed:.1f}s, none refused"
    for r in refused:
        assert_nginx_429(r)
    assert len(passed) <= TIGHT.burst + 1 + 2 * elapsed + 1  # 2r/s
    assert limited_by(tight, "bgremover_req") >= len(refused)


def test_posts_have_a_tighter_limit(tight):
    time.sleep(3)  # the general zone refills (burst 4 at 2r/s); the POST zone allows 1r/s, burst 2
    with requests.Session() as session:
        answers = [session.post(f"{tight.url}/api/presets", verify=False, timeout=10).status_code for _ in range(5)]
    assert 405 in answers and 429 in answers  # the first reach the app (GET only), then nginx refuses
    assert answers.count(405) <= TIGHT.post_burst + 2
    assert limited_by(tight, "bgremover_post") >= 1
