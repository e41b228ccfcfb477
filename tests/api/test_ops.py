"""Health, readiness, metrics access, the OpenAPI document, CORS and the JSON request log."""

from __future__ import annotations

import io
import json
import re

import pytest
from openapi_spec_validator import validate
from prometheus_client.utils import floatToGoString

from bgremover import __version__
from bgremover.processing.segment import UNSURE_CERTAINTY
from tests.services import RedisServer


def test_health_when_all_is_well(make_app, settings):
    from bgremover.models.registry import ModelRegistry

    r = make_app(web_concurrency=1).test_client().get("/health")
    body = r.get_json()
    assert r.status_code == 200 and body["status"] == "healthy"
    # the worker reports what runs each model: INFERENCE_BACKEND/INFERENCE_PRECISION as this machine resolves them
    # per model (auto runs a model's int8 build on a VNNI CPU where `make model` made it)
    registry = ModelRegistry.from_settings(settings)
    runs = {name: registry.file_for(name)[1] for name in ("u2netp", "u2net")}
    described = {
        n: {"backend": r.backend, "precision": r.precision, "threads": settings.model_threads} for n, r in runs.items()
    }
    assert body["checks"]["model"] == {
        "status": "ok",
        "loaded": ["u2netp", "u2net"],  # the primary and the cascade's model, each named with what runs it
        "inference": described,
    }
    assert {"disk", "memory", "model", "rate_limits"} <= set(body["checks"]) and "redis" not in body["checks"]
    assert body["checks"]["rate_limits"] == {"status": "ok", "storage": "memory", "scope": "per-worker", "workers": 1}


def test_health_says_memory_limits_are_per_worker(make_app):
    body = make_app(web_concurrency=3).test_client().get("/health").get_json()
    assert body["status"] == "degraded"
    assert body["checks"]["rate_limits"] == {
        "status": "per-worker",
        "storage": "memory",
        "scope": "per-worker",
        "workers": 3,
    }
    off = make_app(web_concurrency=3, ratelimit_enabled=False).test_client().get("/health").get_json()
    assert off["status"] == "healthy" and off["checks"]["rate_limits"] == {"status": "ok", "enabled": False}


@pytest.mark.slow
def test_health_says_redis_limits_are_global(make_app, tmp_path):
    redis = RedisServer(tmp_path).start()
    try:
        body = make_app(web_concurrency=3, redis_url=redis.url).test_client().get("/health").get_json()
    finally:
        redis.stop()
    assert body["status"] == "healthy"
    assert body["checks"]["rate_limits"] == {"status": "ok", "storage": "redis", "scope": "global"}
    assert body["checks"]["redis"]["status"] == "ok"


def test_health_detail_only_for_the_metrics_allow_list(make_app):
    client = make_app(web_concurrency=3).test_client()
    outsider = client.get("/health", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert outsider.status_code == 200
    assert outsider.get_json() == {"status": "degraded", "version": __version__, "checks": {}}
    inside = client.get("/health").get_json()
    assert inside["status"] == "degraded" and {"model", "disk", "memory", "rate_limits"} <= set(inside["checks"])
    allowed = make_app(metrics_allowed_ips="203.0.113.0/24").test_client()
    assert allowed.get("/health", environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json()["checks"]


def test_health_checks_run_once_per_cache_period(make_app, monkeypatch):
    from bgremover.web import ops

    calls = {"disk": 0, "redis": 0}
    disk_usage, redis_check = ops.shutil.disk_usage, ops._redis_check
    clock = [1000.0]

    def counted_disk(path):
        calls["disk"] += 1
        return disk_usage(path)

    def counted_redis():
        calls["redis"] += 1
        return redis_check()

    monkeypatch.setattr(ops.shutil, "disk_usage", counted_disk)
    monkeypatch.setattr(ops, "_redis_check", counted_redis)
    monkeypatch.setattr(ops.time, "monotonic", lambda: clock[0])
    client = make_app().test_client()
    for _ in range(5):
        assert client.get("/health").status_code == 200
        clock[0] += ops.HEALTH_CACHE_SECONDS / 10
    assert calls == {"disk": 1, "redis": 1}
    clock[0] += ops.HEALTH_CACHE_SECONDS
    client.get("/health", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert calls == {"disk": 2, "redis": 2}


def test_live_and_ready(client):
    assert client.get("/health/live").get_json() == {"status": "alive"}
    assert client.get("/health/ready").status_code == 200


def test_unhealthy_without_the_model(make_app):
    from bgremover.models.registry import ModelRegistry

    app = make_app()
    app.extensions["bgremover"].registry = ModelRegistry(
        app.extensions["bgremover"].settings.u2net_home
    )  # nothing loaded
    client = app.test_client()
    assert client.get("/health").status_code == 503
    assert client.get("/health").get_json()["status"] == "unhealthy"
    assert client.get("/health/ready").status_code == 503


def test_metrics_only_for_allowed_ips(client, photo_bytes):
    client.post("/remove-background", data={"file": (io.BytesIO(photo_bytes), "a.jpg")})
    r = client.get("/metrics")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/plain"
    for name in (
        "bgremover_requests_total",
        "bgremover_request_duration_seconds_bucket",
        "bgremover_stage_seconds",
        "bgremover_model_inference_seconds",
        "bgremover_bytes_in_total",
        "bgremover_bytes_out_total",
        "bgremover_worker_peak_rss_bytes",
    ):
        assert name in text
    assert 'endpoint="/remove-background",method="POST",status="200"' in text
    r = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"


def test_metrics_count_model_passes_per_image_and_model(client, photo_bytes):
    def passes(model: str) -> float:
        text = client.get("/metrics").get_data(as_text=True)
        found = re.search(rf'^bgremover_model_passes_total\{{model="{model}"\}} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    before = {m: passes(m) for m in ("u2netp", "u2net")}
    # high: the image and its mirror through both models; none: one u2netp pass
    for refine, expected in (("high", {"u2netp": 2, "u2net": 2}), ("none", {"u2netp": 3, "u2net": 2})):
        r = client.post("/remove-background", data={"file": (io.BytesIO(photo_bytes), "a.jpg"), "refine": refine})
        assert r.status_code == 200 and {m: passes(m) - before[m] for m in before} == expected


def _sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in a /metrics text (0 when the series is not there yet)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}(?:\{{{re.escape(wanted)}\}})? (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def _delta(before: str, after: str, name: str, **labels: str) -> float:
    return _sample(after, name, **labels) - _sample(before, name, **labels)


def test_metrics_count_certainty_and_the_cascade_per_image(client, data_dir):
    """Each cut-out lands in the certainty histogram (at or below UNSURE_CERTAINTY: the unsure bucket); refine=high
    always asks the cascade's model, refine=none never."""
    unsure = floatToGoString(UNSURE_CERTAINTY)
    photos = [
        data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg",
        data_dir / "alphamatting-train-lowres" / "images" / "GT27.png",
    ]
    seen = []
    for path in photos:
        for refine, cascades in (("none", 0), ("high", 1)):
            before = client.get("/metrics").get_data(as_text=True)
            r = client.post(
                "/remove-background", data={"file": (io.BytesIO(path.read_bytes()), path.name), "refine": refine}
            )
            after = client.get("/metrics").get_data(as_text=True)
            certainty = float(r.headers["X-Cutout-Certainty"])
            seen.append(certainty)

            endpoint = "/remove-background"
            assert _delta(before, after, "bgremover_cutout_certainty_count", endpoint=endpoint) == 1
            assert _delta(before, after, "bgremover_cutout_certainty_sum", endpoint=endpoint) == pytest.approx(
                certainty, abs=1e-6
            )
            below = _delta(before, after, "bgremover_cutout_certainty_bucket", endpoint=endpoint, le=unsure)
            assert below == (1 if certainty <= UNSURE_CERTAINTY else 0)
            assert _delta(before, after, "bgremover_cascaded_images_total") == cascades
    assert min(seen) < UNSURE_CERTAINTY < max(seen)  # both sides of the bound were counted


def test_forged_forwarded_for_does_not_open_metrics(make_app):
    client = make_app(trusted_proxy_hops=1).test_client()
    forged = {"X-Forwarded-For": "127.0.0.1"}
    # a client reaching a published port directly, claiming to be loopback
    r = client.get("/metrics", headers=forged, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
    r = client.get("/health", headers=forged, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.get_json()["checks"] == {}
    # an outsider coming through a local nginx: the peer is loopback, the client is not
    r = client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"})
    assert r.status_code == 403
    # an operator on the machine, through the local nginx
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_metrics_allowed_network(make_app):
    client = make_app(metrics_allowed_ips="10.0.0.0/8").test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert client.get("/metrics").status_code == 403


def test_openapi_is_valid_and_covers_every_route(client, app):
    doc = client.get("/openapi.json").get_json()
    validate(doc)
    routes = {
        (rule.rule, method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routes == documented
    props = doc["paths"]["/remove-background-preview"]["post"]["requestBody"]["content"]["multipart/form-data"]
    from bgremover.processing.options import OPTION_NAMES

    assert set(OPTION_NAMES) | {"file"} == set(props["schema"]["properties"])


def test_cors_follows_settings(make_app):
    client = make_app(cors_origins="https://shop.example").test_client()
    r = client.get("/api/presets", headers={"Origin": "https://shop.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Optimized-Size" in r.headers["Access-Control-Expose-Headers"]
    r = client.get("/api/presets", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = make_app().test_client().get("/api/presets", headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_one_json_log_line_per_request(make_app, tmp_path, photo_bytes):
    log = tmp_path / "requests.log"
    client = make_app(log_file=log).test_client()
    r = client.post("/remove-background", data={"file": (io.BytesIO(photo_bytes), "a.jpg")})
    client.get("/nope")
    lines = [json.loads(line) for line in log.read_text().splitlines() if '"bgremover.access"' in line]
    assert len(lines) == 2
    first = lines[0]
    assert first["request_id"] == r.headers["X-Request-ID"] and first["status"] == 200
    assert first["route"] == "/remove-background" and first["client"] == "127.0.0.1"
    assert first["bytes_in"] > len(photo_bytes) and first["bytes_out"] == len(r.data)
    assert set(first["stages_ms"]) == {"decode", "segment", "refine", "resize", "compose", "encode"}
    assert first["peak_rss_mb"] > 0
    assert lines[1]["status"] == 404


def test_made_up_methods_do_not_create_metric_series(client):
    methods = ["AAAB" * n for n in range(1, 6)] + ["PROPFIND"]
    for method in methods:
        assert client.open("/health", method=method).status_code == 405
    client.delete("/health")
    text = client.get("/metrics").get_data(as_text=True)
    labels = set(re.findall(r'^bgremover_requests_total\{[^}]*method="([^"]*)"', text, re.M))
    assert labels and labels <= {"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH", "other"}
    assert 'endpoint="unmatched",method="other",status="405"' in text
    assert 'endpoint="unmatched",method="DELETE",status="405"' in text
