"""Per-stage engine timings in one process and one thread, optionally beside another git ref's stage modules.

    python -m bench.stages [--side 1024] [--photos 6] [--rounds 5] [--compare REF]

Real photos (dis5k-mini, duts-te-150, alphamatting from ../shared/data, in turn) scaled so the long side
is `--side`, as JPEG, go through the engine with several option sets (default PNG, refine=none, JPEG,
WEBP, a background colour). Prints the median ms of every stage per option set, and the output bytes.

With `--compare REF` the stage modules (decode, refine, geometry, compose, shadow, encode) of the git ref
REF are loaded beside the working tree's and swapped into the engine in turn for every image, so both are
timed in the same run under the same load; the report gives new÷ref ratios, output sizes of both and the
largest pixel difference between them (colour where either is visible, and alpha). Each image's model
passes run once and are replayed from memory (both sides get the same mask), so `segment` here is the
segment stage's own non-model work.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType

os.environ["MODEL_THREADS"] = "1"  # before settings are read: one thread for the model as for OpenCV

import cv2
import numpy as np
from PIL import Image

from bench.photos import interleaved, scaled_jpeg
from bgremover.models.registry import ModelRegistry
from bgremover.processing import Engine, Limits, parse_options, pipeline
from bgremover.processing.segment import MaskPredictor
from bgremover.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
STAGE_MODULES = ("decode", "refine", "geometry", "compose", "shadow", "encode")  # what pipeline.py calls by module
STAGES = ("decode", "segment", "refine", "resize", "compose", "encode")
CASES: dict[str, dict[str, str]] = {
    "png": {},
    "png none": {"refine": "none"},
    "jpeg": {"format": "jpg"},
    "webp": {"format": "webp"},
    "png bg": {"bg_color": "#3366cc"},
    "png bg40": {"bg_color": "#3366cc40"},
}


def photos(side: int, count: int) -> list[bytes]:
    """JPEG bytes (quality 90) of `count` photos taken from the sets in turn, long side scaled to `side`."""
    return [scaled_jpeg(Image.open(path), side) for path in interleaved(count)]


class Replayed:
    """A model whose predictions are remembered by input, so repeated images cost no model time."""

    def __init__(self, model: MaskPredictor) -> None:
        self.model = model
        self.size = model.size
        self.memo: dict[bytes, np.ndarray] = {}

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """The model's own input resize."""
        return self.model.resize(rgb)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The model's masks, from memory after the first time."""
        key = hashlib.sha1(images.tobytes()).digest()
        if key not in self.memo:
            self.memo[key] = self.model.predict(images)
        return self.memo[key].copy()


class Models:
    """The registry's models, replayed."""

    def __init__(self, registry: ModelRegistry, names: list[str]) -> None:
        self._models = {name: Replayed(registry.load(name)) for name in names}

    @property
    def names(self) -> list[str]:
        """The loaded models."""
        return list(self._models)

    def get(self, name: str) -> Replayed:
        """A loaded model by name."""
        return self._models[name]


def ref_modules(ref: str) -> dict[str, ModuleType]:
    """The stage modules as they are at git ref `ref`, imported under private names."""
    out = {}
    for name in STAGE_MODULES:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{ref}:bgremover/processing/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        spec = importlib.util.spec_from_loader(f"_ref_{name}", loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up there
        exec(compile(source, f"{ref}:{name}.py", "exec"), module.__dict__)
        out[name] = module
    return out


def use(modules: dict[str, ModuleType]) -> None:
    """Make the engine call these stage modules."""
    for name, module in modules.items():
        setattr(pipeline, name, module)


def pixels(data: bytes) -> np.ndarray:
    """Decoded output as RGBA uint8."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def difference(a: bytes, b: bytes) -> tuple[int, int]:
    """(largest colour difference where either pixel is visible, largest alpha difference) of two outputs."""
    pa, pb = pixels(a).astype(np.int16), pixels(b).astype(np.int16)
    if pa.shape != pb.shape:
        return 999, 999
    seen = (pa[:, :, 3] > 0) | (pb[:, :, 3] > 0)
    colour = int(np.abs(pa[:, :, :3] - pb[:, :, :3])[seen].max(initial=0))
    return colour, int(np.abs(pa[:, :, 3] - pb[:, :, 3]).max())


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--photos", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compare", metavar="REF", help="git ref whose stage modules are timed beside these")
    parser.add_argument("--cases", nargs="*", choices=list(CASES), default=list(CASES))
    args = parser.parse_args()

    cv2.setNumThreads(1)
    settings = load_settings(_env_file=None)
    registry = ModelRegistry.from_settings(settings)
    engine = Engine(Models(registry, settings.model_names), settings.model_name, Limits(), settings.cascade_model)
    inputs = photos(args.side, args.photos)
    variants = {"new": {name: getattr(pipeline, name) for name in STAGE_MODULES}}
    if args.compare:
        variants = {"ref": ref_modules(args.compare), **variants}
    options = {case: parse_options(CASES[case]) for case in args.cases}

    times: dict[tuple[str, str, str], list[float]] = defaultdict(list)  # (case, variant, stage) → ms
    sizes: dict[tuple[str, str], int] = defaultdict(int)
    diffs: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    order = list(variants)
    for round_ in range(args.rounds + 1):  # round 0 warms up (and runs the models once per image)
        for data in inputs:
            for case in args.cases:
                outputs = {}
                order.reverse()  # alternate which side goes first
                for variant in order:
                    use(variants[variant])
                    result = engine.process(data, options[case])
                    outputs[variant] = result.data
                    if round_:
                        for stage, ms in result.timings_ms.items():
                            times[case, variant, stage].append(ms)
                    if round_ == 1:
                        sizes[case, variant] += result.size
                if round_ == 1 and "ref" in outputs and case not in ("jpeg", "webp"):
                    new = difference(outputs["ref"], outputs["new"])
                    diffs[case] = (max(diffs[case][0], new[0]), max(diffs[case][1], new[1]))
        print(f"round {round_}/{args.rounds} done at {time.strftime('%H:%M:%S')}", file=sys.stderr)
    use(variants["new"])

    print(f"{len(inputs)} photos at {args.side} px, {args.rounds} rounds, median ms per stage (one thread)")
    for case in args.cases:
        print(f"\n{case}: options {CASES[case] or 'default'}")
        header = f"  {'stage':<9}" + "".join(f"{v:>9}" for v in variants) + ("    new/ref" if args.compare else "")
        print(header)
        for stage in (*STAGES, "non-model"):
            row = []
            for variant in variants:
                if stage == "non-model":
                    per_run = zip(*(times[case, variant, s] for s in STAGES if s != "segment"), strict=True)
                    row.append(statistics.median(sum(run) for run in per_run))
                else:
                    row.append(statistics.median(times[case, variant, stage]))
            line = f"  {stage:<9}" + "".join(f"{ms:9.1f}" for ms in row)
            if args.compare:
                line += f"    {row[1] / max(row[0], 1e-9):.2f}"
            print(line)
        print("  bytes    " + "".join(f"{sizes[case, v]:>9}" for v in variants), end="")
        if args.compare:
            print(f"    {sizes[case, 'new'] / sizes[case, 'ref']:.4f}", end="")
            if case in diffs:
                print(f"   max diff colour {diffs[case][0]}, alpha {diffs[case][1]}", end="")
        print()


if __name__ == "__main__":
    main()
