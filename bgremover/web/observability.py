"""Request ids, one JSON log line per request, and Prometheus metrics."""

from __future__ import annotations

import logging
import re
import resource
import sys
import time
import uuid
from pathlib import Path

from flask import Flask, Response, g, request
from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter

from bgremover.processing import Result
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.web.auth import key_name
from bgremover.web.headers import Header

STAGES_KEY = "bgremover_stages_ms"  # where record_result() leaves a request's stage timings for its log line
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# The `method` label takes one of these values or "other": a client choosing its own method (`curl -X AAAB…`)
# must not create a new time series (each one lives on in the multiprocess files until the next start).
METHOD_LABELS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
access_log = logging.getLogger("bgremover.access")

REQUESTS = Counter("bgremover_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "bgremover_request_duration_seconds",
    "Request latency",
    ["endpoint", "status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
STAGES = Histogram(
    "bgremover_stage_seconds",
    "Time per processing stage",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4),
)
INFERENCE = Histogram(
    "bgremover_model_inference_seconds",
    "Model inference time",
    ["model"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 4),
)
MODEL_PASSES = Counter(
    "bgremover_model_passes_total", "Model passes, by model (more than one an image where a plan asks)", ["model"]
)
BYTES_IN = Counter("bgremover_bytes_in_total", "Request body bytes", ["endpoint"])
BYTES_OUT = Counter("bgremover_bytes_out_total", "Response body bytes", ["endpoint"])
RATE_LIMITED = Counter("bgremover_rate_limited_total", "Requests refused by a rate limit", ["endpoint"])
# The buckets hold UNSURE_CERTAINTY as a bound, so "the share of unsure cut-outs" is one bucket over the count.
CERTAINTY = Histogram(
    "bgremover_cutout_certainty",
    "How sure each cut-out is, 0 to 1 (below UNSURE_CERTAINTY: worth a person's look)",
    ["endpoint"],
    buckets=sorted({0.5, 0.7, 0.8, UNSURE_CERTAINTY, 0.95, 0.98, 1.0}),
)
CASCADED = Counter("bgremover_cascaded_images_total", "Images a second model re-decided (the cascade ran)")
WORKER_RSS = Gauge("bgremover_worker_peak_rss_bytes", "Peak resident memory of the worker", multiprocess_mode="max")


def setup_logging(level: str, log_file: Path | None) -> None:
    """JSON lines to stdout and, if set, to LOG_FILE."""
    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", timestamp=False)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    root = logging.getLogger("bgremover")
    root.handlers.clear()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    logging.getLogger("flask-limiter").handlers = handlers
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)


def peak_rss_bytes() -> int:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def method_label(method: str) -> str:
    """The request's method as a metrics label: a known method, else "other"."""
    return method if method in METHOD_LABELS else "other"


def _start() -> None:
    given = request.headers.get(Header.REQUEST_ID, "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.started = time.perf_counter()


def endpoint_label() -> str:
    """This request's route as a metrics label (its rule, not its path): one series per route."""
    return request.url_rule.rule if request.url_rule else "unmatched"


def _finish(response: Response) -> Response:
    response.headers[Header.REQUEST_ID] = g.get("request_id", "")
    endpoint = endpoint_label()
    status = response.status_code
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    bytes_in = request.content_length or 0
    # a streamed body (a batch's ZIP) is not known yet, and measuring it here would buffer it whole
    bytes_out = 0 if response.is_streamed else response.calculate_content_length() or 0
    REQUESTS.labels(endpoint, method_label(request.method), str(status)).inc()
    LATENCY.labels(endpoint, str(status)).observe(elapsed)
    BYTES_IN.labels(endpoint).inc(bytes_in)
    BYTES_OUT.labels(endpoint).inc(bytes_out)
    if status == 429:
        RATE_LIMITED.labels(endpoint).inc()
    rss = peak_rss_bytes()
    WORKER_RSS.set(rss)
    record = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "route": endpoint,
        "path": request.path,
        "status": status,
        "client": request.remote_addr,
        "bytes_in": bytes_in,
        "bytes_out": bytes_out,
        "duration_ms": round(elapsed * 1000, 1),
        "peak_rss_mb": round(rss / 2**20, 1),
    }
    name = key_name()  # only the key's name is logged, never the key
    if name is not None:
        record["api_key"] = name
    stages = g.get(STAGES_KEY)
    if stages is not None:
        record["stages_ms"] = stages
    if endpoint not in ("/health", "/health/live", "/health/ready", "/metrics"):
        access_log.info("request", extra=record)
    return response


def record_result(result: Result) -> None:
    """Count a processed image's stage and inference times, passes and certainty; keep its timings for the log."""
    for stage, ms in result.timings_ms.items():
        STAGES.labels(stage).observe(ms / 1000)
    INFERENCE.labels(result.options.model or "default").observe(result.timings_ms.get("segment", 0) / 1000)
    for model, passes in result.model_passes.items():
        MODEL_PASSES.labels(model).inc(passes)
    if len(result.model_passes) > 1:
        CASCADED.inc()
    CERTAINTY.labels(endpoint_label()).observe(result.certainty)
    setattr(g, STAGES_KEY, result.timings_ms)


def init_app(app: Flask) -> None:
    """Hook request ids, logs and metrics into every request."""
    app.before_request(_start)
    app.after_request(_finish)
