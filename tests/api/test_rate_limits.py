"""Rate limits: per IP and endpoint, JSON 429s, proxy headers, and a real Redis shared by real processes."""

from __future__ import annotations

import time

import pytest
import requests

from bgremover.web.ops import HEALTH_CACHE_SECONDS
from tests.services import AppServer, RedisServer, wait_for


def cheap(client, path="/remove-background-preview", **kw):
    """A limited request that costs no model time (the body is not an image)."""
    if path == "/remove-background-base64":
        return client.post(path, json={"image": "aGVsbG8="}, **kw)
    return client.post(path, data={"file": (__import__("io").BytesIO(b"not an image"), "x.jpg")}, **kw)


def test_limit_plus_one_is_a_json_429_with_retry_after(make_app):
    client = make_app(rate_limit_preview_per_hour=2).test_client()
    first = cheap(client)
    assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
    assert int(first.headers["X-RateLimit-Reset"]) > time.time()
    cheap(client)
    r = cheap(client)
    assert r.status_code == 429
    body = r.get_json()
    assert body["code"] == "rate_limited" and body["request_id"] == r.headers["X-Request-ID"]
    assert 3500 <= int(r.headers["Retry-After"]) <= 3600
    assert r.headers["X-RateLimit-Remaining"] == "0"


def test_limits_are_per_endpoint_and_unlimited_routes_stay_open(make_app):
    client = make_app(rate_limit_preview_per_hour=1, rate_limit_base64_per_hour=1).test_client()
    cheap(client)
    assert cheap(client).status_code == 429
    assert cheap(client, "/remove-background-base64").status_code != 429
    for path in ("/", "/health", "/health/live", "/health/ready", "/api/presets", "/openapi.json", "/metrics"):
        for _ in range(3):
            r = client.get(path)
            assert r.status_code == 200 and "X-RateLimit-Limit" not in r.headers


def test_spoofed_forwarded_for_does_not_reset_the_limit(make_app):
    client = make_app(rate_limit_preview_per_hour=2).test_client()  # TRUSTED_PROXY_HOPS=0: header ignored
    codes = [cheap(client, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(4)]
    assert codes[2:] == [429, 429]


def test_behind_one_trusted_proxy_only_the_proxy_supplied_address_counts(make_app):
    client = make_app(rate_limit_preview_per_hour=2, trusted_proxy_hops=1).test_client()
    # nginx appends the real client; whatever the client put before it is ignored
    codes = [cheap(client, headers={"X-Forwarded-For": f"10.0.0.{i}, 203.0.113.7"}).status_code for i in range(3)]
    assert codes[2] == 429
    assert cheap(client, headers={"X-Forwarded-For": "203.0.113.8"}).status_code != 429  # another client


def test_disabled_limits(make_app):
    client = make_app(rate_limit_preview_per_hour=1, ratelimit_enabled=False).test_client()
    assert [cheap(client).status_code for _ in range(3)] == [415, 415, 415]


# ---- real Redis, real gunicorn processes ---------------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def image_dir(tmp_path, photo_bytes):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "car.jpg").write_bytes(photo_bytes)
    return folder


@pytest.fixture
def two_nodes(tmp_path, redis_server, image_dir):
    env = {"REDIS_URL": redis_server.url, "READ_FILE_DIR": str(image_dir), "RATE_LIMIT_READ_FILE_PER_HOUR": "4"}
    nodes = [AppServer(env, tmp_path) for _ in range(2)]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def read(node: AppServer, timeout: float = 10) -> requests.Response:
    return requests.post(f"{node.url}/read-file", json={"path": "car.jpg"}, timeout=timeout)


@pytest.mark.slow
def test_two_processes_share_one_redis_limit(two_nodes, redis_server):
    a, b = two_nodes
    assert [read(a).status_code, read(b).status_code, read(a).status_code, read(b).status_code] == [200] * 4
    for node in (a, b):
        r = read(node)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited" and "Retry-After" in r.headers
    assert redis_server.keys("*bgremover*")


def health(node: AppServer) -> dict:
    """The node's /health body, read from loopback (so with the checks' detail)."""
    return requests.get(f"{node.url}/health", timeout=5).json()


@pytest.mark.slow
def test_redis_outage_degrades_then_recovers(two_nodes, redis_server):
    a, _ = two_nodes
    assert read(a).status_code == 200
    assert health(a)["checks"]["redis"]["status"] == "ok"
    redis_server.stop()
    started = time.monotonic()
    statuses = [read(a).status_code for _ in range(3)]
    assert all(s < 500 for s in statuses) and statuses[0] == 200
    assert time.monotonic() - started < 5  # a dead Redis costs little per request
    # /health runs its checks at most every HEALTH_CACHE_SECONDS, so the outage shows within that
    wait_for(lambda: health(a)["status"] == "degraded", HEALTH_CACHE_SECONDS + 5, "degraded /health")
    response = requests.get(f"{a.url}/health", timeout=5)
    assert response.status_code == 200 and response.json()["checks"]["redis"]["status"] == "down"

    redis_server.start()  # same port, empty: counters written from now on prove Redis is used again
    deadline = time.monotonic() + 75
    while time.monotonic() < deadline and not redis_server.keys("*bgremover*"):
        assert read(a).status_code < 500
        time.sleep(1)
    assert redis_server.keys("*bgremover*"), "limits did not go back to Redis"
    wait_for(lambda: health(a)["status"] == "healthy", HEALTH_CACHE_SECONDS + 5, "healthy /health")


def read_many(node: AppServer, count: int) -> list[int]:
    """Statuses of `count` reads, each waiting long enough for a recycled worker to load its model."""
    return [read(node, timeout=90).status_code for _ in range(count)]


@pytest.mark.slow
def test_memory_limits_warn_at_start_and_say_per_worker(tmp_path, image_dir):
    env = {"READ_FILE_DIR": str(image_dir), "WEB_CONCURRENCY": "2"}
    node = AppServer(env, tmp_path).start()
    try:
        body = health(node)
    finally:
        node.stop()
    assert body["status"] == "degraded" and body["checks"]["rate_limits"]["scope"] == "per-worker"
    warnings = [line for line in node.log.read_text().splitlines() if "[WARNING]" in line]
    assert any("RATE LIMITS ARE PER WORKER" in line and "2 worker(s)" in line for line in warnings), warnings


# sync workers: each recycles right after its second request (a gthread worker finishes its queue first)
RECYCLING = {
    "GUNICORN_CMD_ARGS": "--max-requests 2 --max-requests-jitter 0",
    "WEB_CONCURRENCY": "2",
    "WORKER_THREADS": "1",
}


@pytest.mark.slow
def test_redis_limits_hold_across_workers_and_recycles(tmp_path, redis_server, image_dir):
    """Workers that live for two requests each: with Redis the limit of 3 holds; in memory it does not."""
    base = {"READ_FILE_DIR": str(image_dir), "RATE_LIMIT_READ_FILE_PER_HOUR": "3", **RECYCLING}
    shared = AppServer({**base, "REDIS_URL": redis_server.url}, tmp_path).start()
    try:
        codes = read_many(shared, 6)
    finally:
        shared.stop()
    assert codes == [200] * 3 + [429] * 3
    assert shared.log.read_text().count("Autorestarting worker") >= 3  # 7 requests (1 readiness) at 2 per worker

    alone = AppServer(base, tmp_path).start()  # the same without Redis: every new worker starts at zero
    try:
        codes = read_many(alone, 6)
    finally:
        alone.stop()
    assert codes.count(200) > 3, codes
