"""Where a big photo's memory goes: each engine stage's peak resident memory, in a fresh process per case.

    python -m bench.stage_memory [--side 4096] [--formats png,webp,jpeg] [--refine none,standard,high] [--no-arena]

Each case (output format × refine level) runs in its own child process: the model is loaded and warmed as
in a worker, then one real photo (bench.worker_memory's: the most detailed dis5k-mini image scaled to
side × side, JPEG in) goes through Engine.process once. Before each stage the child resets its peak-RSS
counter (Linux: writing 5 to /proc/self/clear_refs) and after it reads VmHWM, so each stage's own peak is
printed (MiB) beside the resident memory before the request; the largest is the request's peak, the figure
a worker would report. `--no-arena` runs onnxruntime without its CPU memory arena, to show what the arena
keeps resident.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STAGES = {  # stage name: (module, function) wrapped in the child
    "decode": ("decode", "decode"),
    "segment": ("segment", "segment"),
    "refine": ("refine", "refine"),
    "resize": ("pipeline", "_trim_and_fit"),
    "compose": ("compose", "compose"),
    "encode": ("encode", "encode"),
}


def status_mib(field: str) -> float:
    """One figure (VmRSS, VmHWM…) from /proc/self/status, MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def reset_peak() -> None:
    """Make VmHWM start again from the current RSS."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _without_arena() -> None:
    import onnxruntime as ort

    class NoArena(ort.SessionOptions):
        def __init__(self) -> None:
            super().__init__()
            self.enable_cpu_mem_arena = False

    ort.SessionOptions = NoArena


def child(data: bytes, options: dict[str, str], arena: bool = True) -> dict[str, Any]:
    """One request in this process: MiB before it, each stage's peak (and ms), and the output's KiB."""
    import importlib

    from bgremover.models.registry import ModelRegistry
    from bgremover.processing import Engine, parse_options
    from bgremover.settings import load_settings

    if not arena:
        _without_arena()
    settings = load_settings()
    registry = ModelRegistry.from_settings(settings)
    registry.load(settings.model_name)
    engine = Engine(registry, settings.model_name)
    described = registry.describe()[settings.model_name]
    figures: dict[str, Any] = {"runs_on": f"{described['backend']} {described['precision']}"}

    def probe(name, fn):
        def wrapped(*args, **kwargs):
            reset_peak()
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                figures[name + "_ms"] = (time.perf_counter() - started) * 1000
                figures[name] = status_mib("VmHWM")

        return wrapped

    for name, (module_name, attr) in STAGES.items():
        module = importlib.import_module(f"bgremover.processing.{module_name}")
        setattr(module, attr, probe(name, getattr(module, attr)))
    figures["before"] = status_mib("VmRSS")
    result = engine.process(data, parse_options(options))
    figures["out_kib"] = len(result.data) / 1024
    return figures


def run_case(data_path: Path, options: dict[str, str], arena: bool = True) -> dict[str, Any]:
    """child() in a fresh interpreter."""
    cmd = [sys.executable, "-m", "bench.stage_memory", "--child", str(data_path), json.dumps(options)]
    if not arena:
        cmd.append("--no-arena")
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument("--formats", default="png,webp,jpeg")
    parser.add_argument("--refine", default="none,standard,high")
    parser.add_argument("--no-arena", action="store_true", help="onnxruntime without its CPU memory arena")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]).read_bytes(), json.loads(args.child[1]), not args.no_arena)))
        return
    from bench.worker_memory import photo

    path = Path(f"/tmp/stage-memory-{os.getpid()}.jpg")
    path.write_bytes(photo(args.side))
    arena = "" if args.no_arena else " (onnxruntime: arena on)"
    print(f"{args.side}x{args.side} JPEG in, INFERENCE_BACKEND/INFERENCE_PRECISION from the environment{arena}; MiB")
    print("format refine    before " + " ".join(f"{s:>8}" for s in STAGES) + "     peak  model")
    try:
        for level in args.refine.split(","):
            for fmt in args.formats.split(","):
                fig = run_case(path, {"format": fmt, "refine": level}, arena=not args.no_arena)
                cells = " ".join(f"{fig[s]:8.0f}" for s in STAGES)
                peak = max(fig[s] for s in STAGES)
                print(f"{fmt:6} {level:9} {fig['before']:6.0f} {cells} {peak:8.0f}  {fig['runs_on']}", flush=True)
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
