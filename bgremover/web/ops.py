"""Operations blueprint: health, readiness, metrics (for allowed IPs) and the OpenAPI document."""

from __future__ import annotations

import ipaddress
import os
import shutil

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from werkzeug.exceptions import Forbidden

from bgremover.web.extensions import limiter
from bgremover.web.observability import peak_rss_bytes
from bgremover.web.openapi import document
from bgremover.web.services import services

bp = Blueprint("ops", __name__)
MIN_FREE_DISK = 256 * 2**20


def _redis_check() -> dict[str, object] | None:
    if services().settings.limiter_storage_uri.startswith("memory://"):
        return None
    reachable = bool(limiter.storage and limiter.storage.check())
    return {"status": "ok" if reachable else "down", "fallback": "in-process limits" if not reachable else None}


@bp.get("/health")
def health() -> Response:
    """Model, Redis (when configured), disk and memory; 503 only when the service cannot work."""
    found = services()
    models = found.registry.names
    checks: dict[str, object] = {
        "model": {"status": "ok" if found.settings.model_name in models else "down", "loaded": models},
        "disk": {"status": "ok", "free_mb": shutil.disk_usage(found.settings.u2net_home).free // 2**20},
        "memory": {"status": "ok", "worker_peak_rss_mb": peak_rss_bytes() // 2**20},
    }
    if checks["disk"]["free_mb"] * 2**20 < MIN_FREE_DISK:
        checks["disk"]["status"] = "low"
    redis = _redis_check()
    if redis is not None:
        checks["redis"] = redis
    if checks["model"]["status"] != "ok":
        status = "unhealthy"
    elif any(c["status"] != "ok" for c in checks.values()):
        status = "degraded"
    else:
        status = "healthy"
    return jsonify(status=status, checks=checks), 503 if status == "unhealthy" else 200


@bp.get("/health/live")
def live() -> Response:
    """The process answers."""
    return jsonify(status="alive")


@bp.get("/health/ready")
def ready() -> Response:
    """Ready when the default model is loaded and warmed."""
    found = services()
    ok = found.settings.model_name in found.registry.names
    return jsonify(status="ready" if ok else "not ready"), 200 if ok else 503


def _allowed(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = services().settings.metrics_allowed_ips
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format, aggregated across gunicorn workers when multiprocess mode is on."""
    if not _allowed(request.remote_addr):
        raise Forbidden("Metrics are only served to METRICS_ALLOWED_IPS")
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    return jsonify(document(services().settings))
