"""gunicorn configuration: workers that load and warm their own models after the fork.

By default one gthread worker serves WORKER_THREADS (4) requests at once, its threads sharing one copy of
the models; WORKER_THREADS=1 gives sync workers, one request and one copy of the models each
(docs/performance.md compares the layouts).
"""

import os
import shutil
import sys
import tempfile

from bgremover.errors import BackendUnavailable, ModelUnavailable
from bgremover.settings import SettingsError, load_settings

try:
    _settings = load_settings()
except SettingsError as exc:
    sys.exit(f"bgremover: cannot start:\n{exc}")

bind = f"{_settings.host}:{_settings.port}"
worker_class = "gthread" if _settings.worker_threads > 1 else "sync"
threads = _settings.worker_threads
workers = _settings.web_concurrency  # default 1: its models run MODEL_THREADS (default 2) threads each
preload_app = False  # the app, and so the model session, is created in each worker after the fork
timeout = 120  # above the slowest legal request (4096x4096, refine=high) on a slow core
graceful_timeout = 30
keepalive = 5
max_requests = 1000
max_requests_jitter = 100
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None  # the app writes one JSON line per request
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "bgremover"
wsgi_app = "bgremover.app:create_app()"

# Prometheus multiprocess mode: every worker writes its samples here; /metrics aggregates them.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bgremover-metrics-")


def on_starting(server):
    """Refuse to start, with a clear message, when a configured model, the inference backend, an API key entry or
    file, or an allow-listed host cannot be used (each worker's create_app builds the same again)."""
    from bgremover.apikeys import KeyFileError, KeyStore
    from bgremover.models.backends import resolve
    from bgremover.models.registry import ModelRegistry
    from bgremover.web.addresses import AllowList

    registry = ModelRegistry(_settings.u2net_home)
    try:
        if _settings.api_keys_enabled:
            KeyStore.load(_settings.api_keys, _settings.api_keys_file)
        AllowList.parse(_settings.image_url_allow_hosts)
        for name in _settings.model_names:
            registry.locate(name)
        # bf16 judged from /proc/cpuinfo here: OpenVINO is loaded only in the workers, after the fork
        resolve(_settings.inference_backend, _settings.inference_precision, ask_openvino=False)
    except (ModelUnavailable, BackendUnavailable, KeyFileError, ValueError) as exc:
        sys.exit(f"bgremover: cannot start: {exc}")
    _warn_if_limits_are_per_worker(server)
    metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for entry in os.listdir(metrics_dir):  # stale samples from an earlier run would be summed in
        os.unlink(os.path.join(metrics_dir, entry))


def _warn_if_limits_are_per_worker(server):
    """Say loudly when the rate limits are kept in each worker's memory rather than in Redis."""
    if not _settings.ratelimit_enabled or not _settings.limiter_storage_uri.startswith("memory://"):
        return
    server.log.warning(
        "RATE LIMITS ARE PER WORKER: no REDIS_URL, so each of the %d worker(s) counts on its own (a client gets up "
        "to %d times each limit) and a worker's counts restart whenever it is recycled (max_requests). "
        "Set REDIS_URL for limits that hold; /health reports checks.rate_limits.scope=per-worker.",
        server.cfg.workers,
        server.cfg.workers,
    )


def child_exit(server, worker):
    """Let the metrics of a dead worker stop counting as live."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics directory we created."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if path.startswith(tempfile.gettempdir()) and "bgremover-metrics-" in path:
        shutil.rmtree(path, ignore_errors=True)
