"""Operations blueprint: health, readiness, metrics (for allowed IPs) and the OpenAPI document."""

from __future__ import annotations

import ipaddress
import os
import shutil
import time
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from werkzeug.exceptions import Forbidden

from bgremover import __version__
from bgremover.settings import Settings
from bgremover.web.extensions import limiter
from bgremover.web.observability import peak_rss_bytes
from bgremover.web.openapi import document
from bgremover.web.services import services

bp = Blueprint("ops", __name__)
MIN_FREE_DISK = 256 * 2**20
HEALTH_CACHE_SECONDS = 5.0  # each worker runs /health's checks (disk, Redis PING) at most this often
CACHE_KEY = "bgremover.health"


@dataclass
class _Cached:
    """The last health verdict of this app and when it goes stale."""

    expires: float = 0.0
    verdict: tuple[str, dict[str, dict[str, object]]] | None = None


def _redis_check() -> dict[str, object] | None:
    if services().settings.limiter_storage_uri.startswith("memory://"):
        return None
    reachable = bool(limiter.storage and limiter.storage.check())
    return {"status": "ok" if reachable else "down", "fallback": "in-process limits" if not reachable else None}


def _rate_limit_check(settings: Settings) -> dict[str, object]:
    """Whether the limits mean what they say: memory storage counts per worker, so N workers allow N × the limit."""
    if not settings.ratelimit_enabled:
        return {"status": "ok", "enabled": False}
    storage = settings.limiter_storage_uri.split(":", 1)[0]
    if storage != "memory":
        return {"status": "ok", "storage": storage, "scope": "global"}
    workers = settings.web_concurrency
    status = "per-worker" if workers > 1 else "ok"
    return {"status": status, "storage": storage, "scope": "per-worker", "workers": workers}


def _run_checks() -> tuple[str, dict[str, dict[str, object]]]:
    """Run every check now: the overall status and each check's detail."""
    found = services()
    models = found.registry.names
    free_mb = shutil.disk_usage(found.settings.u2net_home).free // 2**20
    checks: dict[str, dict[str, object]] = {
        "model": {
            "status": "ok" if found.settings.model_name in models else "down",
            "loaded": models,
            "inference": found.registry.describe(),  # backend, precision, threads of each model in this worker
        },
        "disk": {"status": "ok" if free_mb * 2**20 >= MIN_FREE_DISK else "low", "free_mb": free_mb},
        "memory": {"status": "ok", "worker_peak_rss_mb": peak_rss_bytes() // 2**20},
        "rate_limits": _rate_limit_check(found.settings),
    }
    redis = _redis_check()
    if redis is not None:
        checks["redis"] = redis
    if checks["model"]["status"] != "ok":
        status = "unhealthy"
    elif any(c["status"] != "ok" for c in checks.values()):
        status = "degraded"
    else:
        status = "healthy"
    return status, checks


def _checks() -> tuple[str, dict[str, dict[str, object]]]:
    """The checks' verdict, run again only when the last one is older than HEALTH_CACHE_SECONDS."""
    cached = current_app.extensions.setdefault(CACHE_KEY, _Cached())
    now = time.monotonic()
    if cached.verdict is None or now >= cached.expires:
        cached.verdict = _run_checks()
        cached.expires = now + HEALTH_CACHE_SECONDS
    return cached.verdict


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Model, rate limits, Redis (when configured), disk and memory; 503 only when the service cannot work.

    Everyone gets the status and bgremover's version; the checks' detail (models, memory, Redis state) only
    METRICS_ALLOWED_IPS.
    """
    status, checks = _checks()
    shown = checks if trusted_observer() else {}
    return jsonify(status=status, version=__version__, checks=shown), 503 if status == "unhealthy" else 200


@bp.get("/health/live")
def live() -> Response:
    """The process answers."""
    return jsonify(status="alive")


@bp.get("/health/ready")
def ready() -> tuple[Response, int]:
    """Ready when the default model is loaded and warmed."""
    found = services()
    ok = found.settings.model_name in found.registry.names
    return jsonify(status="ready" if ok else "not ready"), 200 if ok else 503


def socket_peer() -> str | None:
    """The address of the TCP peer that sent this request, whatever X-Forwarded-For says."""
    original = request.environ.get("werkzeug.proxy_fix.orig")  # ProxyFix keeps the peer here when it rewrites
    if original is not None:
        return original.get("REMOTE_ADDR")
    return request.environ.get("REMOTE_ADDR")


def _in_allow_list(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    networks = services().settings.metrics_allowed_ips
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def trusted_observer() -> bool:
    """May this request read metrics and health detail: its socket peer and its client (after ProxyFix) are allowed.

    The peer alone decides against forged X-Forwarded-For on a published port; the client as ProxyFix found it
    keeps out outsiders that come through a local nginx (whose peer is loopback).
    """
    return _in_allow_list(socket_peer()) and _in_allow_list(request.remote_addr)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text format, aggregated across gunicorn workers when multiprocess mode is on."""
    if not trusted_observer():
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
