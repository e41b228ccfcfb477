"""Model passes: milliseconds per u2netp pass on each backend, precision and thread count, interleaved in one run.

    python -m bench.passes [--rounds 7] [--memory]

Cases, each timed once per round (rounds interleave them, so a busy machine slows all alike), median and
fastest reported: a pass at 320 px on onnxruntime f32, OpenVINO f32 and OpenVINO bf16 (where the CPU has
it) with 1 and 2 threads; on OpenVINO at its `auto` precision, one pass at 256 and 384 px. Input: a real
photo at the model's size, as the engine makes it.
`--memory` adds the peak RSS of a fresh process per case (model loaded, warmed and run once).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bgremover.models.backends import bf16_supported, cpu_flags, openvino_capabilities, resolve
from bgremover.models.registry import ModelRegistry, Segmenter
from bgremover.processing.segment import model_input
from bgremover.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BGREMOVER_DATA", ROOT.parent / "shared" / "data"))
PHOTO = DATA / "rembg-fixtures" / "fixtures" / "car-1.jpg"
MODEL = "u2netp"


def photo(side: int) -> np.ndarray:
    """The test photo (or mid-grey when the data is absent) at side×side, uint8 RGB."""
    if PHOTO.is_file():
        return model_input(np.asarray(Image.open(PHOTO).convert("RGB")), side)
    return np.full((side, side, 3), 128, np.uint8)


def load(backend: str, precision: str, threads: int) -> Segmenter:
    """u2netp on a fresh registry with these settings, warmed."""
    return ModelRegistry(load_settings().u2net_home, threads, backend, precision).load(MODEL)


def cases(bf16: bool) -> dict[str, Callable[[], object]]:
    """Each case's name and one timed call."""
    at = {side: photo(side)[None] for side in (256, 320, 384)}
    out: dict[str, Callable[[], object]] = {}
    precisions = ["f32", "bf16"] if bf16 else ["f32"]
    for threads in (1, 2):
        for backend, precision in [("onnxruntime", "f32"), *(("openvino", p) for p in precisions)]:
            model = load(backend, precision, threads)
            out[f"320 px, {backend} {precision}, {threads} thread(s)"] = lambda m=model: m.predict(at[320])
    default = resolve("openvino", "auto").precision
    threads = load_settings().model_threads
    model = load("openvino", default, threads)
    model.warm(256)
    model.warm(384)
    label = f"openvino {default}, {threads} thread(s)"
    out[f"256 px, {label}"] = lambda: model.predict(at[256])
    out[f"384 px, {label}"] = lambda: model.predict(at[384])
    return out


def peak_rss_mb(backend: str, precision: str, threads: int, batch: int, side: int) -> int:
    """Peak RSS (VmHWM) of a fresh process that loads the model and runs one batch."""
    code = (
        "import numpy as np, bench.passes as p;"
        f"m = p.load({backend!r}, {precision!r}, {threads}); m.predict(np.stack([p.photo({side})] * {batch}));"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return int(done.stdout.split()[-1]) // 1024


def main() -> None:
    """Print the table (and, with --memory, peak RSS per case)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--memory", action="store_true", help="also the peak RSS of one process per case")
    args = parser.parse_args()
    bf16 = bf16_supported(openvino_capabilities(), cpu_flags())
    print(
        f"{MODEL}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"native bf16: {'yes' if bf16 else 'no (bf16 cases left out)'}, load average {os.getloadavg()[0]:.1f}"
    )
    timed = cases(bf16)
    times: dict[str, list[float]] = {name: [] for name in timed}
    for _ in range(args.rounds):
        for name, call in timed.items():
            started = time.perf_counter()
            call()
            times[name].append(1000 * (time.perf_counter() - started))
    print(f"\n| case | median ms | fastest ms |  ({args.rounds} interleaved rounds)\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f} |")
    if args.memory:
        default = resolve("openvino", "auto").precision
        print("\n| process | peak RSS MB |\n|---|---|")
        for backend, precision, batch, side in [
            ("onnxruntime", "f32", 1, 320),
            ("openvino", default, 1, 320),
            ("openvino", default, 1, 384),
        ]:
            mb = peak_rss_mb(backend, precision, 1, batch, side)
            print(f"| {backend} {precision}, batch {batch} at {side} px | {mb} |")


if __name__ == "__main__":
    main()
