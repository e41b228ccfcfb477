"""Health, readiness, metrics access, the OpenAPI document, CORS and the JSON request log."""

from __future__ import annotations

import io
import json
import re

from openapi_spec_validator import validate


def test_health_when_all_is_well(client):
    r = client.get("/health")
    body = r.get_json()
    assert r.status_code == 200 and body["status"] == "healthy"
    assert body["checks"]["model"] == {"status": "ok", "loaded": ["u2netp"]}
    assert {"disk", "memory", "model"} <= set(body["checks"]) and "redis" not in body["checks"]


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
