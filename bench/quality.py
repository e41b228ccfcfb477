"""Quality benchmark (docs/quality.md): MAE, IoU and SAD of each refinement level beside plain rembg, in one run.

python -m bench.quality [--data ../shared/data] [--sets duts-te-150,...] [--limit N]

Each level runs as the engine runs it (the primary model, and the cascade model where the plan asks), at the
precision `auto` picks here and at f32; beside it, rembg's own `remove(only_mask=True)` with u2netp and with
u2net (its default), on onnxruntime with the same threads.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from bench.host import describe
from bench.photos import scaled_jpeg
from bgremover.models.registry import ModelRegistry
from bgremover.models.session import Segmenter
from bgremover.processing import Engine, Limits, parse_options
from bgremover.processing import decode as decoding
from bgremover.processing import refine as refining
from bgremover.processing import segment as segmenting
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.settings import load_settings

LEVELS = ("none", "standard", "high")
SETS = ("duts-te-150", "alphamatting-train-lowres", "dis5k-mini")
TIMING_SIDE = 1024
Rows = dict[tuple[str, str], list[tuple]]  # (method, precision) → one tuple of figures per image
Models = dict[str, tuple[Segmenter, Segmenter | None]]  # precision → (primary, cascade model)
PEERS = ("u2netp", "u2net")  # rembg's models run beside ours


def metrics(alpha: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(MAE, IoU at 0.5, SAD/1000) of an alpha in [0, 1] against an 8-bit ground truth."""
    gt = truth.astype(np.float32) / 255.0
    err = np.abs(alpha - gt)
    fg, true_fg = alpha >= 0.5, gt >= 0.5
    union = np.logical_or(fg, true_fg).sum()
    iou = np.logical_and(fg, true_fg).sum() / union if union else 1.0
    return float(err.mean()), float(iou), float(err.sum() / 1000.0)


def pairs(folder: Path, limit: int | None) -> list[tuple[Path, Path]]:
    """(image, mask) paths of an evaluation set."""
    images = sorted(p for p in (folder / "images").iterdir() if p.is_file())
    found = [(p, folder / "masks" / f"{p.stem}.png") for p in images]
    return [pair for pair in found if pair[1].exists()][:limit]


def evaluate(folder: Path, models: Models, limits: Limits, limit: int | None, threads: int) -> Rows:
    """Per image and method: (MAE, IoU, SAD, seconds, model passes, cascade passes, certainty, mean |Δ| to f32).

    Each level runs at every precision in `models` (the default first, then f32), on the same images.
    """
    import onnxruntime as ort
    from rembg import new_session, remove

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # same threads as ours: a like-for-like time
    peers = {name: new_session(name, sess_opts=options) for name in PEERS}
    rows: Rows = {(level, precision): [] for level in LEVELS for precision in models}
    for name in PEERS:
        rows[f"rembg-{name}", "f32"] = []
    for image_path, mask_path in tqdm(pairs(folder, limit), desc=folder.name, unit="img"):
        data = image_path.read_bytes()
        truth = np.asarray(Image.open(mask_path).convert("L"))
        rgb = decoding.decode(data, limits).rgb
        for level in LEVELS:
            alphas = {}
            for precision, (model, cascade) in models.items():
                started = time.perf_counter()
                segmented = segmenting.segment(rgb, model, refine=level, cascade=cascade)
                alphas[precision] = refining.refine(rgb, segmented.mask, level)
                seconds = time.perf_counter() - started
                figures = (seconds, segmented.passes, segmented.cascade_passes, segmented.certainty)
                rows[level, precision].append((*metrics(alphas[precision], truth), *figures))
            for precision in models:  # how far each precision's alpha lies from f32's, per pixel
                delta = float(np.abs(alphas[precision] - alphas["f32"]).mean())
                rows[level, precision][-1] += (delta,)
        for name, session in peers.items():
            started = time.perf_counter()
            ref = remove(Image.open(io.BytesIO(data)), session=session, only_mask=True)
            ref_alpha = np.asarray(ref, dtype=np.float32) / 255.0
            seconds = time.perf_counter() - started
            rows[f"rembg-{name}", "f32"].append((*metrics(ref_alpha, truth), seconds, 1, 0, 1.0, 0.0))
    return rows


def end_to_end_ms(engine: Engine, data_root: Path, repeats: int = 3) -> dict[str, float]:
    """Median engine.process time per level on photos scaled to TIMING_SIDE px (JPEG in, PNG out)."""
    photos = [p for p, _ in pairs(data_root / "alphamatting-train-lowres", 6)]
    photos += [p for p, _ in pairs(data_root / "dis5k-mini", 3)]
    inputs = [scaled_jpeg(Image.open(path), TIMING_SIDE) for path in photos]
    result = {}
    for level in LEVELS:
        options = parse_options({"refine": level})
        times = []
        for _ in range(repeats):
            for data in inputs:
                started = time.perf_counter()
                engine.process(data, options)
                times.append(time.perf_counter() - started)
        result[level] = statistics.median(times) * 1000
    return result


def table(name: str, rows: Rows) -> str:
    """A markdown table of the averages of one set: each level at each precision, then plain rembg."""
    count = len(next(iter(rows.values())))
    lines = [
        f"#### {name} ({count} images)",
        "",
        "| method | precision | MAE ↓ | IoU ↑ | SAD ↓ | s/image | passes/image (of them cascade) | gate rate "
        "| median certainty | below 0.9: share, MAE (rest's MAE) | mean abs Δ vs f32 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    labels = {
        "none": "bgremover `refine=none`",
        "standard": "bgremover `refine=standard`",
        "high": "bgremover `refine=high`",
        **{f"rembg-{name}": f"rembg {name} `remove(only_mask=True)`" for name in PEERS},
    }
    for (key, precision), found in rows.items():
        values = np.array(found)
        mae, iou, sad, secs, passes, cascade, _, delta = values.mean(axis=0)
        gated = f"{(values[:, 4] > 1).mean():.0%}" if key in LEVELS else "—"
        sure, unsure = "—", "—"
        if key in LEVELS:
            low = values[:, 6] < UNSURE_CERTAINTY
            sure = f"{np.median(values[:, 6]):.3f}"
            below = f"{values[low, 0].mean():.4f}" if low.any() else "—"
            rest = f"{values[~low, 0].mean():.4f}" if (~low).any() else "—"
            unsure = f"{low.mean():.0%}, {below} ({rest})"
        lines.append(
            f"| {labels[key]} | {precision} | {mae:.4f} | {iou:.3f} | {sad:.1f} | {secs:.3f} | {passes:.2f} "
            f"({cascade:.2f}) | {gated} | {sure} | {unsure} | {delta:.4f} |"
        )
    return "\n".join(lines)


def set_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every quality bench takes: where the data is, which sets, how many images of each."""
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, default=None, help="images per set (default: all)")
    return parser


def main() -> None:
    """Run the benchmark and print markdown tables."""
    parser = set_arguments(
        argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the 1024-px end-to-end timing")
    args = parser.parse_args()
    settings = load_settings()
    cv2.setNumThreads(1)
    registry = ModelRegistry.from_settings(settings)
    cascade = settings.cascade_model
    # keyed by what runs: `auto` may run int8 builds for some models and bf16 or f32 for others
    models: Models = {}
    reference = ModelRegistry(settings.u2net_home, settings.model_threads, registry.inference.backend, "f32")
    for reg in (registry, reference):  # f32 is the reference, unless `auto` runs it already
        if reg is reference and "f32" in models:
            break
        loaded = (reg.load(settings.model_name), reg.load(cascade) if cascade else None)
        models[reg.precision_label()] = loaded
    limits = Limits(settings.min_image_side, 8192, 8192 * 8192)
    out = [
        f"### Quality, `{settings.model_name}` → `{cascade}`, {date.today()}, {describe()}, "
        f"MODEL_THREADS={settings.model_threads}, {registry.inference.backend} {registry.precision_label()}",
        "",
        "Command: `make quality`",
        "",
    ]
    for name in args.sets.split(","):
        rows = evaluate(args.data.resolve() / name, models, limits, args.limit, settings.model_threads)
        out += [table(name, rows), ""]
    if not args.no_timing:
        ms = end_to_end_ms(Engine(registry, settings.model_name, limits, cascade), args.data.resolve())
        out += [
            f"#### End to end at {TIMING_SIDE} px (JPEG in, PNG out; median ms per image)",
            "",
            "| none | standard | high | standard ÷ none |",
            "|---|---|---|---|",
            f"| {ms['none']:.0f} | {ms['standard']:.0f} | {ms['high']:.0f} | {ms['standard'] / ms['none']:.2f} |",
            "",
        ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
