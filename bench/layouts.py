"""Model-only throughput of layouts: u2netp passes per second of all processes together, on OpenVINO.

    python -m bench.layouts [--seconds 15] [--precisions f32,int8]

Layouts, each run for the same wall time with a real photo at 320 px:
- P processes × T threads: each process loads the model as a worker does (ModelRegistry: one stream,
  LATENCY hint, pinning off) and runs one pass after another, as gunicorn's sync workers do;
- 1 process with OpenVINO's THROUGHPUT hint and N streams fed by an AsyncInferQueue of N jobs: what a
  server that overlaps requests inside one process could get from OpenVINO's own scheduling.
Prints a markdown table; the load average before the run is printed with it, for judging noise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bgremover.models.catalog import CATALOG
from bgremover.models.registry import ModelRegistry
from bgremover.settings import load_settings

MODEL = "u2netp"
PHOTO = Path(os.environ.get("BGREMOVER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PHOTO = PHOTO / "rembg-fixtures" / "fixtures" / "car-1.jpg"


def photo() -> np.ndarray:
    """The test photo (or mid-grey when the data is absent) at the model's input size, uint8 RGB."""
    if PHOTO.is_file():
        return CATALOG[MODEL].resize(np.asarray(Image.open(PHOTO).convert("RGB")))
    return np.full((CATALOG[MODEL].size, CATALOG[MODEL].size, 3), 128, np.uint8)


def worker(precision: str, threads: int, start: float, seconds: float) -> int:
    """Passes one worker-like process runs between `start` and `start + seconds` (time.time())."""
    model = ModelRegistry(load_settings().u2net_home, threads, "openvino", precision).load(MODEL)
    image = photo()[None]
    while time.time() < start:
        time.sleep(0.01)
    passes = 0
    while time.time() < start + seconds:
        model.predict(image)
        passes += 1
    return passes


def streams(precision: str, count: int, seconds: float) -> int:
    """Passes one process runs in `seconds` with the THROUGHPUT hint, `count` streams and as many jobs."""
    import openvino as ov

    registry = ModelRegistry(load_settings().u2net_home, os.cpu_count() or 1, "openvino", precision)
    path, inference = registry.file_for(MODEL)
    model = ov.Core().read_model(str(path))
    model.reshape({model.inputs[0].get_any_name(): [1, 3, 320, 320]})
    hint = "f32" if inference.precision == "int8" else inference.precision
    config = {
        "PERFORMANCE_HINT": "THROUGHPUT",
        "NUM_STREAMS": count,
        "INFERENCE_NUM_THREADS": os.cpu_count() or 1,
        "INFERENCE_PRECISION_HINT": hint,
        "ENABLE_CPU_PINNING": False,
    }
    compiled = ov.Core().compile_model(model, "CPU", config)
    tensor = CATALOG[MODEL].tensor(photo()[None])
    queue = ov.AsyncInferQueue(compiled, count)
    done = [0]
    queue.set_callback(lambda request, userdata: done.__setitem__(0, done[0] + 1))
    for _ in range(count):  # warm every stream
        queue.start_async({0: tensor})
    queue.wait_all()
    done[0] = 0
    stop = time.perf_counter() + seconds
    while time.perf_counter() < stop:
        queue.start_async({0: tensor})
    queue.wait_all()
    return done[0]


def run_processes(precision: str, processes: int, threads: int, seconds: float) -> float:
    """Passes per second of `processes` worker-like processes started together."""
    start = time.time() + 20  # after every process has loaded and warmed its model
    code = f"import sys, bench.layouts as b;print(b.worker({precision!r}, {threads}, {start}, {seconds}))"
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(processes)
    ]
    total = sum(int(p.communicate(timeout=seconds + 300)[0].split()[-1]) for p in procs)
    return total / seconds


def main() -> None:
    """Print passes per second for each layout and precision."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--precisions", default="f32,int8")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    precisions = args.precisions.split(",")
    print(f"u2netp at 320 px, OpenVINO, {cores} CPUs, load average {os.getloadavg()[0]:.1f}, {args.seconds:.0f} s each")
    print("\n| layout | " + " | ".join(f"{p} passes/s" for p in precisions) + " |")
    print("|---|" + "---|" * len(precisions))
    layouts = [(cores, 1), (1, cores), (cores, 2), (cores * 2, 1)]
    for processes, threads in layouts:
        cells = [f"{run_processes(p, processes, threads, args.seconds):.2f}" for p in precisions]
        print(f"| {processes} process(es) × {threads} thread(s), LATENCY, 1 stream | " + " | ".join(cells) + " |")
    for count in (cores, cores * 2):
        cells = [f"{streams(p, count, args.seconds) / args.seconds:.2f}" for p in precisions]
        print(f"| 1 process, THROUGHPUT, {count} streams | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
