"""Peak memory of one gunicorn worker serving the largest legal request, per output format.

    python -m bench.worker_memory

For each case a fresh server (gunicorn.conf.py, WEB_CONCURRENCY=1, MODEL_THREADS as configured, limits off)
gets one real photo scaled to MAX_IMAGE_SIDE x MAX_IMAGE_SIDE (JPEG in, refine=high); printed: the worker's
own peak RSS (its `bgremover_worker_peak_rss_bytes`) and the gunicorn master's RSS. The Kubernetes memory
limit (deploy/kubernetes/deployment.yaml) is derived from the highest worker figure.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
from pathlib import Path

import requests
from PIL import Image

from bench.speed import DATA, ROOT, free_port
from bgremover.settings import load_settings

CASES = {"png": {}, "webp": {"format": "webp"}, "jpeg": {"format": "jpeg"}}
PEAK = re.compile(r"^bgremover_worker_peak_rss_bytes\S* (\S+)$", re.M)


def photo(side: int) -> bytes:
    """The most detailed evaluation photo, scaled to side x side, as JPEG."""
    source = Path(os.environ.get("BGREMOVER_DATA", DATA)) / "dis5k-mini" / "images"
    largest = max(source.iterdir(), key=lambda p: Image.open(p).width * Image.open(p).height)
    buf = io.BytesIO()
    Image.open(largest).convert("RGB").resize((side, side), Image.Resampling.LANCZOS).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def rss_mib(pid: int) -> int:
    """Resident memory of one process, MiB."""
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def measure(data: bytes, fields: dict[str, str]) -> tuple[float, int, float]:
    """(worker peak MiB, master MiB, seconds) for one request on a fresh one-worker server."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1", "RATELIMIT_ENABLED": "false"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        ["gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        started = time.perf_counter()
        form = {"refine": "high", **fields}
        files = {"file": ("photo.jpg", data, "image/jpeg")}
        response = requests.post(f"{url}/remove-background", files=files, data=form, timeout=300)
        response.raise_for_status()
        elapsed = time.perf_counter() - started
        peak = float(PEAK.search(requests.get(f"{url}/metrics", timeout=10).text).group(1))
        return peak / 2**20, rss_mib(proc.pid), elapsed
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    """Print one line per output format."""
    settings = load_settings()
    side = settings.max_image_side
    data = photo(side)
    print(f"{side}x{side} JPEG in ({len(data) >> 10} KiB), refine=high, MODEL_THREADS={settings.model_threads}")
    for name, fields in CASES.items():
        worker, master, seconds = measure(data, fields)
        print(f"{name}: worker peak RSS {worker:.0f} MiB, master RSS {master} MiB, {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
