"""Speed benchmark: bgremover (production gunicorn config) beside rembg's own server, in one run.

    python -m bench.speed [--quick] [--out BENCHMARKS.md]

bgremover and `rembg s` with u2net (its default) and with u2netp get the same real photos (from
../shared/data: dis5k-mini, duts-te-150 and alphamatting, scaled to 512/1024/2048/4096 px, JPEG in, PNG
out) in closed loops at concurrency 1, 2, 4 and 8, alternating the servers per configuration.
Reported: throughput, p50/p95 latency, output bytes, peak RSS of each server's whole process tree,
cold start (process start to first cut-out), ours÷rembg ratios, the model-only ceiling, per-stage
engine timings, worker/thread layouts, and RSS growth over a long run.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import requests
from PIL import Image
from tqdm import tqdm

from bench.host import describe
from bench.photos import interleaved, scaled_jpeg
from bgremover.models.provision import model_file
from bgremover.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
REMBG_VERSION = "2.0.86"
REMBG_VENV = ROOT / "bench" / ".rembg-venv"
PEERS = ("u2net", "u2netp")  # rembg's default model first
PASSES = re.compile(r"^bgremover_model_passes_total\{[^}]*\} (\S+)$", re.M)


# ---- inputs ------------------------------------------------------------------------------------------------


def make_inputs(sizes: list[int], count: int) -> dict[int, list[bytes]]:
    """JPEG bytes of `count` real photos from three sets, in turn, scaled so the long side is each size."""
    images = [Image.open(p) for p in interleaved(count)]
    return {side: [scaled_jpeg(img, side) for img in images] for side in sizes}


# ---- servers -----------------------------------------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{current}/task/{current}/children") as fh:
                todo += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


class RSSSampler:
    """Samples a process tree's RSS every 50 ms; `peak` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.05)

    def __enter__(self) -> RSSSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Server:
    """A server process under test and how to ask it for a cut-out."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    path: str
    fields: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    cold_start_s: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def cutout(self, data: bytes, session: requests.Session | None = None) -> requests.Response:
        post = (session or requests).post
        return post(self.url, files={"file": ("photo.jpg", data, "image/jpeg")}, data=self.fields, timeout=300)

    def model_passes(self) -> float:
        """bgremover's bgremover_model_passes_total over all workers (0 for a server without it)."""
        try:
            text = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        except requests.RequestException:
            return 0.0
        return sum(float(m.group(1)) for m in PASSES.finditer(text))

    def start(self, probe: bytes) -> None:
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = started + 180
        while time.perf_counter() < deadline:
            try:
                if self.cutout(probe).status_code == 200:
                    self.cold_start_s = time.perf_counter() - started
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not serve a cut-out within 180 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_rembg_server() -> Path:
    """rembg's own server in its own virtual environment (installed once, from PyPI)."""
    rembg = REMBG_VENV / "bin" / "rembg"
    if not rembg.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REMBG_VENV)], check=True)
        subprocess.run(
            [str(REMBG_VENV / "bin" / "pip"), "install", "-q", f"rembg[cpu,cli]=={REMBG_VERSION}"], check=True
        )
    return rembg


def ours(workers: int, threads: int, worker_threads: int = 1) -> Server:
    port = free_port()
    return Server(
        "bgremover",
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py"],
        {
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "RATELIMIT_ENABLED": "false",
            "WEB_CONCURRENCY": str(workers),
            "MODEL_THREADS": str(threads),
            "WORKER_THREADS": str(worker_threads),
            "LOG_LEVEL": "WARNING",
        },
        port,
        "/remove-background",
    )


def theirs(u2net_home: Path, threads: int, model: str) -> Server:
    port = free_port()
    return Server(
        f"rembg s ({model})",
        [
            str(ensure_rembg_server()),
            "s",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-t",
            str(threads),
            "--no-ui",
            "-l",
            "warning",
        ],
        {"U2NET_HOME": str(u2net_home)},
        port,
        "/api/remove",
        {"model": model},
    )


# ---- load --------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """The outcome of one closed-loop run."""

    throughput: float
    p50: float
    p95: float
    out_bytes: float
    peak_rss: int
    errors: int
    passes: float = float("nan")  # model passes per answered image (bgremover only)


def closed_loop(server: Server, inputs: list[bytes], concurrency: int, requests_total: int) -> Run:
    """`concurrency` clients, each sending its next request as soon as the last one is answered."""
    latencies: list[float] = []
    sizes: list[int] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests_total))

    def client() -> None:
        nonlocal errors
        session = requests.Session()
        for i in counter:
            data = inputs[i % len(inputs)]
            started = time.perf_counter()
            response = server.cutout(data, session)
            elapsed = time.perf_counter() - started
            with lock:
                if response.status_code == 200:
                    latencies.append(elapsed)
                    sizes.append(len(response.content))
                else:
                    errors += 1

    passes_before = server.model_passes()
    with RSSSampler(server.proc.pid) as rss:
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
    q = np.percentile(latencies, [50, 95]) if latencies else [float("nan")] * 2
    passes = (server.model_passes() - passes_before) / len(latencies) if latencies else float("nan")
    return Run(
        len(latencies) / wall,
        float(q[0]),
        float(q[1]),
        float(np.mean(sizes)) if sizes else 0.0,
        rss.peak,
        errors,
        passes if passes > 0 else float("nan"),
    )


# ---- in-process measurements -------------------------------------------------------------------------------


def inference_seconds(settings) -> tuple[float, str]:
    """Median single-thread inference time of the model alone, and what ran it (backend and precision)."""
    from bgremover.models.registry import ModelRegistry

    registry = ModelRegistry(settings.u2net_home, 1, settings.inference_backend, settings.inference_precision)
    model = registry.load(settings.model_name)
    rgb = np.random.default_rng(0).integers(0, 255, (1, model.size, model.size, 3), dtype=np.uint8)
    times = []
    for _ in range(10):
        started = time.perf_counter()
        model.predict(rgb)
        times.append(time.perf_counter() - started)
    return statistics.median(times), f"{model.runner.backend} {model.runner.precision}"


def stage_breakdown(settings, inputs: dict[int, list[bytes]]) -> dict[int, dict[str, float]]:
    """Median per-stage engine timings (ms, one thread) per input size, defaults (PNG, standard)."""
    from bgremover.models.registry import ModelRegistry
    from bgremover.processing import Engine, parse_options

    registry = ModelRegistry(settings.u2net_home, 1, settings.inference_backend, settings.inference_precision)
    for name in settings.model_names:
        registry.load(name)
    engine = Engine(registry, settings.model_name, cascade_model=settings.cascade_model)
    table = {}
    for side, photos in inputs.items():
        runs = [engine.process(data, parse_options({})).timings_ms for data in photos for _ in range(2)]
        table[side] = {stage: statistics.median(r[stage] for r in runs) for stage in runs[0]}
    return table


# ---- report ------------------------------------------------------------------------------------------------


def fmt_ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def main() -> None:
    """Run everything and write the report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1024 px only, concurrency 1 and 4, short soak")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--soak", type=int, default=None, help="requests in the RSS-growth run")
    args = parser.parse_args()
    settings = load_settings()
    if any(model_file(name, settings.u2net_home) is None for name in settings.model_names):
        sys.exit("model missing: run `make model` first")
    sizes = [1024] if args.quick else [512, 1024, 2048, 4096]
    concurrencies = [1, 4] if args.quick else [1, 2, 4, 8]
    soak = args.soak if args.soak is not None else (100 if args.quick else 1000)
    cores = os.cpu_count() or 1
    inputs = make_inputs(sorted(set(sizes) | {512, 1024, 2048}), 4)
    probe = inputs[512][0]

    print("model-only inference and engine stages (in process) …", file=sys.stderr)
    infer, runs_on = inference_seconds(settings)
    ceiling = cores / infer
    stages = stage_breakdown(settings, {s: inputs[s] for s in sizes})

    rembg_threads = cores
    servers = {
        "ours": ours(settings.web_concurrency, settings.model_threads, settings.worker_threads),
        **{peer: theirs(settings.u2net_home, rembg_threads, peer) for peer in PEERS},
    }
    results: dict[tuple[str, int, int], Run] = {}
    cold: dict[str, float] = {}
    try:
        for key, server in servers.items():
            print(f"starting {server.name} …", file=sys.stderr)
            server.start(probe)  # a first start fills caches (rembg's numba JIT); the second is timed
            server.stop()
            server.start(probe)
            cold[key] = server.cold_start_s
        plan = [(side, c) for side in sizes for c in concurrencies]
        for side, c in tqdm(plan, desc="load", unit="run", file=sys.stderr):
            total = max(6, 3 * c) if side >= 4096 else max(12, 4 * c)
            for key in servers:  # alternate the servers, configuration by configuration
                results[(key, side, c)] = closed_loop(servers[key], inputs[side], c, total)
    finally:
        for server in servers.values():
            server.stop()

    print("layouts and soak …", file=sys.stderr)
    layouts: dict[str, tuple[Run, Run]] = {}
    for workers, threads, per_worker in [(cores, 1, 1), (cores, 2, 1), (1, cores, 2), (1, cores, 4)]:
        server = ours(workers, threads, per_worker)
        try:
            server.start(probe)
            layouts[f"{workers}×{threads}, {'sync' if per_worker == 1 else f'gthread {per_worker}'}"] = (
                closed_loop(server, inputs[1024], 1, 12),
                closed_loop(server, inputs[1024], 4, 16),
            )
        finally:
            server.stop()
    big = make_inputs([4096], 2)[4096]
    server = ours(1, settings.model_threads)
    try:
        server.start(probe)
        master_rss = tree_rss(server.proc.pid) - sum(
            tree_rss(int(c))
            for c in Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
        )
        one_worker = closed_loop(server, big, 1, 4)
    finally:
        server.stop()
    server = ours(settings.web_concurrency, settings.model_threads, settings.worker_threads)
    try:
        server.start(probe)
        closed_loop(server, inputs[512], 2, 20)  # warm-up
        before = tree_rss(server.proc.pid)
        soak_run = closed_loop(server, inputs[512], 2, soak)
        after = tree_rss(server.proc.pid)
    finally:
        server.stop()

    layout = "sync" if settings.worker_threads == 1 else f"gthread × {settings.worker_threads}"
    lines = [
        "# Speed beside rembg (`make bench`)",
        "",
        f"Measured {date.today()} on {describe()}.",
        f"Command: `make bench` (`python -m bench.speed{' --quick' if args.quick else ''}`).",
        f"bgremover: gunicorn with `gunicorn.conf.py`, WEB_CONCURRENCY={settings.web_concurrency} ({layout}), "
        f"MODEL_THREADS={settings.model_threads}, MODEL_NAME={settings.model_name}, "
        f"CASCADE_MODEL={settings.cascade_model}, rate limits off. rembg {REMBG_VERSION}: "
        f"`rembg s -t {rembg_threads} --no-ui` with u2net (its default) and with u2netp (the same files). "
        "Each request: a JPEG photo in, the default PNG out (bgremover `refine=standard`). Closed loops; the "
        "servers alternate per row.",
        "",
        f"Model-only ceiling: {cores} cores ÷ {infer * 1000:.0f} ms single-thread `u2netp` inference ({runs_on}) "
        f"= **{ceiling:.2f} images/s**.",
        "",
        "## Throughput and latency",
        "",
        "| size | conc. | ours img/s | u2net img/s | u2netp img/s | ÷ u2net | ÷ u2netp | ours p50 s | u2net p50 s "
        "| p50 ÷ u2net | ours p95 s | ours peak RSS MB | u2net MB | u2netp MB | RSS ÷ u2net | RSS ÷ u2netp "
        "| errors | ours passes/img |",
        "|" + "---|" * 18,
    ]
    for side in sizes:
        for c in concurrencies:
            a, big, small = (results[(key, side, c)] for key in ("ours", *PEERS))
            lines.append(
                f"| {side} | {c} | {a.throughput:.2f} | {big.throughput:.2f} | {small.throughput:.2f} "
                f"| **{fmt_ratio(a.throughput, big.throughput)}** | **{fmt_ratio(a.throughput, small.throughput)}** "
                f"| {a.p50:.2f} | {big.p50:.2f} | **{fmt_ratio(a.p50, big.p50)}** | {a.p95:.2f} "
                f"| {a.peak_rss / 2**20:.0f} | {big.peak_rss / 2**20:.0f} | {small.peak_rss / 2**20:.0f} "
                f"| {fmt_ratio(a.peak_rss, big.peak_rss)} | {fmt_ratio(a.peak_rss, small.peak_rss)} "
                f"| {a.errors}/{big.errors}/{small.errors} | {a.passes:.2f} |"
            )
    if ("ours", 1024, 4) in results:
        a = results[("ours", 1024, 4)]
        lines += [
            "",
            f"At 1024 px and concurrency 4 ours reaches {a.throughput / ceiling:.0%} of the model-only ceiling.",
        ]
    lines += [
        "",
        "## Cold start (process start → first cut-out, second start of each)",
        "",
        "| ours s | rembg u2net s | rembg u2netp s |",
        "|---|---|---|",
        f"| {cold['ours']:.2f} | {cold['u2net']:.2f} | {cold['u2netp']:.2f} |",
        "",
        "## Engine stages (in process, one thread, median ms)",
        "",
        "| size | " + " | ".join(next(iter(stages.values()))) + " | total |",
        "|" + "---|" * (len(next(iter(stages.values()))) + 2),
    ]
    for side, row in stages.items():
        lines.append(f"| {side} | " + " | ".join(f"{v:.0f}" for v in row.values()) + f" | {sum(row.values()):.0f} |")
    lines += [
        "",
        "## Worker × thread layouts (ours, 1024 px)",
        "",
        "| workers × ORT threads, worker class | c=1 img/s | c=1 p50 s | c=4 img/s | c=4 p50 s | peak RSS MB (c=4) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (one, four) in layouts.items():
        lines.append(
            f"| {name} | {one.throughput:.2f} | {one.p50:.2f} | {four.throughput:.2f} | {four.p50:.2f} "
            f"| {four.peak_rss / 2**20:.0f} |"
        )
    lines += [
        "",
        "## One worker on 4096 px photos",
        "",
        f"WEB_CONCURRENCY=1, MODEL_THREADS={settings.model_threads}: peak RSS of the whole tree "
        f"{one_worker.peak_rss / 2**20:.0f} MB, of which the gunicorn master holds about "
        f"{master_rss / 2**20:.0f} MB, so one worker peaks near "
        f"{(one_worker.peak_rss - master_rss) / 2**20:.0f} MB; p50 {one_worker.p50:.2f} s.",
    ]
    lines += [
        "",
        f"## Memory over a long run (ours, 512 px, concurrency 2, {soak} requests after warm-up)",
        "",
        f"RSS of the server tree: {before / 2**20:.0f} MB before, {after / 2**20:.0f} MB after "
        f"({(after - before) / max(before, 1):+.1%}); peak {soak_run.peak_rss / 2**20:.0f} MB; "
        f"{soak_run.errors} errors.",
        "",
    ]
    write_section(args.out, "\n".join(lines))
    print("\n".join(lines))


MARK = ("<!-- make bench: begin -->", "<!-- make bench: end -->")


def write_section(path: Path, text: str) -> None:
    """Put `make bench`'s report between its markers in `path` (or first, under the title), keeping the rest."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{MARK[0]}\n{text.strip()}\n{MARK[1]}"
    if MARK[0] in old and MARK[1] in old:
        head, rest = old.split(MARK[0], 1)
        new = head + block + rest.split(MARK[1], 1)[1]
    else:
        title, _, rest = old.partition("\n")
        new = f"{title}\n\n{block}\n{rest}"
    path.write_text(new)


if __name__ == "__main__":
    main()
