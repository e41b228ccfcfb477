"""Quality benchmark (README, "Quality"): MAE, IoU and SAD of each refinement level beside plain rembg, in one run.

python -m bench.quality [--data ../shared/data] [--sets duts-te-150,...] [--limit N]
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from bgremover.models.registry import ModelRegistry
from bgremover.processing import Engine, Limits, parse_options
from bgremover.processing import decode as decoding
from bgremover.processing import refine as refining
from bgremover.processing import segment as segmenting
from bgremover.settings import load_settings

LEVELS = ("none", "standard", "high")
SETS = ("duts-te-150", "alphamatting-train-lowres", "dis5k-mini")
TIMING_SIDE = 1024


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


def evaluate(folder: Path, model, limits: Limits, limit: int | None, threads: int) -> dict[str, list[tuple]]:
    """Per image and method: (MAE, IoU, SAD, seconds, model passes), for our levels and plain rembg."""
    import onnxruntime as ort
    from rembg import new_session, remove

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # same threads as ours: a like-for-like time
    rembg_session = new_session(model.name, sess_opts=options)
    rows: dict[str, list[tuple]] = {level: [] for level in (*LEVELS, "rembg")}
    for image_path, mask_path in tqdm(pairs(folder, limit), desc=folder.name, unit="img"):
        data = image_path.read_bytes()
        truth = np.asarray(Image.open(mask_path).convert("L"))
        rgb = decoding.decode(data, limits).rgb
        for level in LEVELS:
            started = time.perf_counter()
            segmented = segmenting.segment(rgb, model, refine=level)
            alpha = refining.refine(rgb, segmented.mask, level)
            rows[level].append((*metrics(alpha, truth), time.perf_counter() - started, segmented.passes))
        started = time.perf_counter()
        ref = remove(Image.open(io.BytesIO(data)), session=rembg_session, only_mask=True)
        ref_alpha = np.asarray(ref, dtype=np.float32) / 255.0
        rows["rembg"].append((*metrics(ref_alpha, truth), time.perf_counter() - started, 1))
    return rows


def end_to_end_ms(engine: Engine, data_root: Path, repeats: int = 3) -> dict[str, float]:
    """Median engine.process time per level on photos scaled to TIMING_SIDE px (JPEG in, PNG out)."""
    photos = [p for p, _ in pairs(data_root / "alphamatting-train-lowres", 6)]
    photos += [p for p, _ in pairs(data_root / "dis5k-mini", 3)]
    inputs = []
    for path in photos:
        img = Image.open(path).convert("RGB")
        scale = TIMING_SIDE / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        inputs.append(buf.getvalue())
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


def table(name: str, rows: dict[str, list[tuple]]) -> str:
    """A markdown table of the averages of one set."""
    lines = [
        f"#### {name} ({len(rows['none'])} images)",
        "",
        "| method | MAE ↓ | IoU ↑ | SAD ↓ | s/image | model passes/image | second opinion |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {
        "none": "bgremover `refine=none`",
        "standard": "bgremover `refine=standard`",
        "high": "bgremover `refine=high`",
        "rembg": "plain rembg `remove(only_mask=True)`",
    }
    for key, label in labels.items():
        values = np.array(rows[key])
        mae, iou, sad, secs, passes = values.mean(axis=0)
        gated = f"{(values[:, 4] > 1).mean():.0%}" if key == "standard" else "—"
        lines.append(f"| {label} | {mae:.4f} | {iou:.3f} | {sad:.1f} | {secs:.3f} | {passes:.2f} | {gated} |")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark and print markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--limit", type=int, default=None, help="images per set (default: all)")
    parser.add_argument("--no-timing", action="store_true", help="skip the 1024-px end-to-end timing")
    args = parser.parse_args()
    settings = load_settings()
    cv2.setNumThreads(1)
    registry = ModelRegistry(settings.u2net_home, threads=settings.ort_threads)
    model = registry.load(settings.model_name)
    limits = Limits(settings.min_image_side, 8192, 8192 * 8192)
    out = [
        f"### Quality, `{settings.model_name}`, {date.today()}, {platform.processor() or platform.machine()}, "
        f"ORT_THREADS={settings.ort_threads}",
        "",
        "Command: `make quality`",
        "",
    ]
    for name in args.sets.split(","):
        out += [table(name, evaluate(args.data.resolve() / name, model, limits, args.limit, settings.ort_threads)), ""]
    if not args.no_timing:
        ms = end_to_end_ms(Engine(registry, settings.model_name, limits), args.data.resolve())
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
