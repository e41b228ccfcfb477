"""int8 experiment: u2netp quantized by NNCF with accuracy control, beside OpenVINO f32 and bf16.

    python -m bench.int8 --recipe [--model u2net]   # the build `bgremover models fetch` makes (models/int8_build.py)
    python -m bench.int8 [--data ../shared/data] [--cache ~/.u2net/u2netp-int8-search] [--rebuild] [--max-drop 0.005]

The second form is the search that found which layers the recipe keeps in f32 (about 20 minutes).

The int8 model is calibrated on scikit-image's bundled photos (flips, crops, a gamma) and its accuracy is
controlled on rembg's four fixture photos; none of them is in a quality set. The control metric has no
ground truth to lean on: it is agreement with the f32 model, 1 − mean |int8 mask − f32 mask|, so
`--max-drop` bounds that mean |Δ|. The IR goes to `--cache` (outside the repository) and is reused while
the source model and the build parameters match. Then every quality set is run through the raw model
mask (no refinement; bilinear to the ground truth's size) at f32, bf16 and int8, and one model pass is
timed at 1 and 2 threads. bf16 is skipped where OpenVINO's CPU plugin does not list BF16 among its
capabilities: there the hint silently runs f32. Prints markdown; the decision rule is `DECISION_LIMIT`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from bench.quality import SETS, metrics, pairs
from bgremover.models.backends import OpenVinoRunner, bf16_supported, cpu_flags, openvino_capabilities
from bgremover.models.catalog import CATALOG
from bgremover.models.int8 import int8_file
from bgremover.models.int8_build import augmented, build_int8, calibration_photos, float_convolutions
from bgremover.models.provision import model_file
from bgremover.models.session import Segmenter

# With NNCF_CI set, NNCF swaps its telemetry for a stub (nncf/telemetry/wrapper.py): it sends no events.
os.environ.setdefault("NNCF_CI", "1")

MODEL = "u2netp"
DECISION_LIMIT = 0.02  # adopt int8 only if no set's MAE, SAD or IoU is worse than f32's by more than this (relative)
EVAL_SIDE = 1024  # larger photos (dis5k-mini) are scaled to this before the model, which sees 320 px anyway
# max_drop: int8 may disagree with f32 no more than bf16 does (mean |Δ| 0.0057 on 60 photos, issue 10).
# ranking_subset and max_iterations bound the build: each ranking runs every layer group over the subset.
BUILD = {"nncf_subset": 300, "ranking_subset": 6, "max_iterations": 8, "preset": "performance"}


def segmenter(path: Path, precision: str, threads: int) -> Segmenter:
    """The app's `Segmenter` on its OpenVINO runner for a model file (ONNX or IR), pinning checked off."""
    runner = OpenVinoRunner(path, precision, threads, CATALOG[MODEL].size)  # type: ignore[arg-type]
    compiled = runner.compiled
    assert compiled.get_property("ENABLE_CPU_PINNING") is False, "CPU pinning was not turned off"
    assert compiled.get_property("INFERENCE_NUM_THREADS") == threads
    return Segmenter(MODEL, runner, CATALOG[MODEL])


def mask(model: Segmenter, rgb: np.ndarray) -> np.ndarray:
    """The raw soft mask (model resolution, [0, 1]) of one photo, as `refine=none` gets it."""
    return model.predict(model.resize(rgb)[None])[0]


def batch(model: Segmenter, rgb: np.ndarray) -> np.ndarray:
    """The model's input tensor (1×3×S×S) for one photo."""
    return model.spec.tensor(model.resize(rgb)[None])


def fixture_photos(data_root: Path) -> list[np.ndarray]:
    """rembg's fixture photos (not in any quality set), RGB uint8."""
    folder = data_root / "rembg-fixtures" / "fixtures"
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.iterdir()) if p.is_file()]


def agreement(masks: list[np.ndarray], references: list[np.ndarray]) -> list[float]:
    """1 − mean |Δ| per mask pair (model resolution, [0, 1]): 1.0 is identical to the f32 model."""
    return [1.0 - float(np.abs(m - r).mean()) for m, r in zip(masks, references, strict=True)]


def source_digest(path: Path) -> str:
    """SHA-256 of the source model file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build(onnx: Path, data_root: Path, cache: Path, max_drop: float, rebuild: bool) -> tuple[Path, dict]:
    """The int8 IR in `cache` (built now unless one made from the same model and parameters is there)."""
    import nncf

    xml = cache / f"{MODEL}-int8.xml"
    meta_path = cache / "build.json"
    wanted = {"source_sha256": source_digest(onnx), "max_drop": max_drop, "nncf": nncf.__version__, **BUILD}
    if not rebuild and xml.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted:
            return xml, meta

    import openvino as ov

    reference = segmenter(onnx, "f32", 2)  # the masks the int8 model must agree with
    model = ov.Core().read_model(str(onnx))
    calib_inputs = [batch(reference, v) for p in calibration_photos() for v in augmented(p)]
    valid_items = [(batch(reference, v), mask(reference, v)) for p in fixture_photos(data_root) for v in augmented(p)]

    def validate(compiled, items) -> tuple[float, list[float]]:
        """Agreement with the f32 masks over the validation items, and per item (NNCF ranks layers by it)."""
        items = list(items)
        masks = [reference.spec.mask(compiled(t)[0][0, 0]) for t, _ in items]  # the app's min-max stretch
        scores = agreement(masks, [ref for _, ref in items])
        return float(np.mean(scores)), scores

    started = time.perf_counter()
    quantized = nncf.quantize_with_accuracy_control(
        model,
        calibration_dataset=nncf.Dataset(calib_inputs),
        validation_dataset=nncf.Dataset(valid_items, lambda item: item[0]),
        validation_fn=validate,
        max_drop=max_drop,
        drop_type=nncf.DropType.ABSOLUTE,
        preset=nncf.QuantizationPreset.PERFORMANCE,
        subset_size=min(BUILD["nncf_subset"], len(calib_inputs)),
        advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(
            ranking_subset_size=BUILD["ranking_subset"],
            num_ranking_workers=1,
            max_num_iterations=BUILD["max_iterations"],
        ),
    )
    seconds = time.perf_counter() - started
    final = validate(ov.compile_model(quantized, "CPU", reference.runner.config), valid_items)[0]
    cache.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(xml), compress_to_fp16=False)
    meta = {
        **wanted,
        "calibration_items": len(calib_inputs),
        "validation_items": len(valid_items),
        "validation_mean_abs_delta": 1.0 - final,
        "fake_quantize_nodes": sum(op.get_type_name() == "FakeQuantize" for op in quantized.get_ops()),
        "f32_convolutions": float_convolutions(quantized),
        "build_seconds": round(seconds, 1),
        "built": date.today().isoformat(),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return xml, meta


def load_rgb(path: Path) -> np.ndarray:
    """An evaluation photo as RGB uint8, scaled down to EVAL_SIDE if larger."""
    img = Image.open(path).convert("RGB")
    scale = EVAL_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    return np.asarray(img)


def evaluate(folder: Path, models: dict[str, Segmenter], limit: int | None) -> dict[str, dict[str, float]]:
    """Per precision: mean MAE, IoU, SAD against ground truth, and mean |Δ| of its alpha against f32's."""
    rows: dict[str, list[tuple[float, ...]]] = {name: [] for name in models}
    for image_path, mask_path in pairs(folder, limit):
        rgb = load_rgb(image_path)
        truth = np.asarray(Image.open(mask_path).convert("L"))
        alphas = {}
        for name, model in models.items():
            small = mask(model, rgb)
            alpha = np.clip(cv2.resize(small, truth.shape[::-1], interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
            alphas[name] = alpha
            rows[name].append((*metrics(alpha, truth), float(np.abs(alpha - alphas["f32"]).mean())))
    keys = ("mae", "iou", "sad", "delta")
    return {name: dict(zip(keys, np.mean(np.array(r), axis=0), strict=True)) for name, r in rows.items()}


def time_passes(variants: dict[str, tuple[Path, str]], threads: int, repeats: int, tensor: np.ndarray) -> dict:
    """Median ms of one model pass (the app's runner) per variant, interleaved so load drifts hit all alike."""
    runners = {name: segmenter(path, precision, threads).runner for name, (path, precision) in variants.items()}
    for runner in runners.values():
        runner.run(tensor)  # warm
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            started = time.perf_counter()
            runner.run(tensor)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name from /proc/cpuinfo, else the platform's machine type."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.machine()


def relative(value: float, base: float) -> float:
    """Relative change of value against base."""
    return (value - base) / base


def main() -> None:
    """Build (or reuse) the int8 model, measure it beside f32 and bf16, print markdown and the decision."""
    global MODEL  # --model: which model the helpers above segment with
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("BGREMOVER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--data", type=Path, default=default_data, help="evaluation data (or BGREMOVER_DATA)")
    parser.add_argument("--cache", type=Path, default=Path("~/.u2net/u2netp-int8-search"))
    parser.add_argument("--recipe", action="store_true", help="measure the provisioned build instead of searching")
    parser.add_argument("--model", default=MODEL, help="with --recipe: the model whose build to measure")
    parser.add_argument("--max-drop", type=float, default=0.005, help="bound on mean |int8 − f32| in validation")
    parser.add_argument("--rebuild", action="store_true", help="build the int8 model even if the cache has it")
    parser.add_argument("--limit", type=int, default=None, help="images per set (default: all)")
    parser.add_argument("--sets", default=",".join(SETS), help="quality sets ('' to time only; decides on all)")
    parser.add_argument("--repeats", type=int, default=20, help="timed passes per precision and thread count")
    args = parser.parse_args()
    import nncf
    import openvino as ov

    if args.model != MODEL and not args.recipe:
        parser.error("--model needs --recipe: the accuracy-control search is u2netp's")
    MODEL = args.model

    cv2.setNumThreads(1)
    data_root = args.data.resolve()
    onnx = model_file(MODEL, Path(os.environ.get("U2NET_HOME", "~/.u2net")).expanduser())
    assert onnx is not None, f"{MODEL}.onnx not found (run `bgremover models fetch {MODEL}`)"
    if args.recipe:
        home = onnx.parent
        xml = int8_file(MODEL, home) or build_int8(MODEL, onnx, home)
        meta = json.loads((xml.parent / "build.json").read_text())
    else:
        xml, meta = build(onnx, data_root, args.cache.expanduser(), args.max_drop, args.rebuild)
    capabilities = openvino_capabilities() or []
    # int8 runs with the f32 hint: its int8 layers run int8, the two it keeps in floating point run f32.
    variants = {"f32": (onnx, "f32"), "bf16": (onnx, "bf16"), "int8": (xml, "f32")}
    if not bf16_supported(capabilities, cpu_flags()):
        del variants["bf16"]  # the app would refuse bf16 here (and OpenVINO would quietly run f32)

    results = {}
    models = {name: segmenter(path, precision, 1) for name, (path, precision) in variants.items()}
    for name in filter(None, args.sets.split(",")):
        results[name] = evaluate(data_root / name, models, args.limit)
    tensor = batch(models["f32"], fixture_photos(data_root)[1])
    del models
    timing = {t: time_passes(variants, t, args.repeats, tensor) for t in (1, 2)}

    worst = {}
    for name, res in results.items():
        f32 = res["f32"]
        worst[name] = max(
            relative(res["int8"]["mae"], f32["mae"]),
            relative(res["int8"]["sad"], f32["sad"]),
            -relative(res["int8"]["iou"], f32["iou"]),
        )
    adopt = all(loss <= DECISION_LIMIT for loss in worst.values())

    how = "the provisioned recipe" if args.recipe else "NNCF accuracy control"
    out = [
        f"### int8 ({how}) beside OpenVINO f32 and bf16, `{MODEL}`, {date.today()}, {cpu_name()}",
        "",
        f"CPU: {cpu_name()}, {os.cpu_count()} cores; OpenVINO capabilities "
        f"{', '.join(capabilities)}" + ("" if "bf16" in variants else " (no BF16: the bf16 rows are left out)."),
        "",
        f"Command: `python -m bench.int8{' --recipe' if args.recipe else ''}"
        + (f" --model {MODEL}" if MODEL != "u2netp" else "")
        + "` (openvino "
        + ov.__version__.split("-")[0]
        + f", nncf {nncf.__version__})",
        "",
    ]
    if args.recipe:
        out.append(
            f"int8 build: plain NNCF quantization, preset {meta['preset']}, activation ranges "
            f"{meta['activation_ranges']}, {meta['calibration_items']} calibration items (scikit-image photos × "
            f"{meta.get('views', 6)} views); convolutions kept in f32: {', '.join(meta['keep_f32']) or 'none'}; "
            f"built in {meta['build_seconds']} s "
            f"on {meta['built']}."
        )
    else:
        out.append(
            f"int8 build: {meta['calibration_items']} calibration items (scikit-image photos × 6 views), "
            f"{meta['validation_items']} validation items (rembg fixtures × 6 views), max drop {meta['max_drop']} "
            f"in 1 − mean |Δ| against f32; validation mean |Δ| after control {meta['validation_mean_abs_delta']:.4f}; "
            f"{meta['fake_quantize_nodes']} FakeQuantize nodes; convolutions left in f32: "
            f"{', '.join(meta['f32_convolutions']) or 'none'}; built in {meta['build_seconds']} s on {meta['built']}."
        )
    out += (
        [
            "",
            "Raw model mask, bilinear to the ground truth's size, no refinement. Δ = change against f32; "
            "mean |Δ| = mean absolute difference per pixel between this alpha and f32's.",
            "",
            "| set | precision | MAE ↓ | IoU ↑ | SAD ↓ | MAE Δ vs f32 | SAD Δ | IoU Δ | mean abs Δ vs f32 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        if results
        else []
    )
    for name, res in results.items():
        n = len(pairs(data_root / name, args.limit))
        for prec, r in res.items():
            f32 = res["f32"]
            deltas = (
                "| — | — | — | — |"
                if prec == "f32"
                else f"| {relative(r['mae'], f32['mae']):+.2%} | {relative(r['sad'], f32['sad']):+.2%} | "
                f"{relative(r['iou'], f32['iou']):+.2%} | {r['delta']:.4f} |"
            )
            out.append(f"| {name} ({n}) | {prec} | {r['mae']:.4f} | {r['iou']:.3f} | {r['sad']:.1f} {deltas}")
    out += [
        "",
        f"One model pass (320×320, OpenVINO, one stream, pinning off), median ms of {args.repeats}, interleaved:",
        "",
        "| threads | " + " | ".join(variants) + " | int8 ÷ f32 |",
        "|---|" + "---|" * (len(variants) + 1),
    ]
    for t, ms in timing.items():
        cells = " | ".join(f"{ms[name]:.0f}" for name in variants)
        out.append(f"| {t} | {cells} | {ms['int8'] / ms['f32']:.2f} |")
    verdict = "ADOPT" if adopt else "REJECT"
    worst_text = ", ".join(f"{k} {v:+.2%}" for k, v in worst.items())
    if set(results) == set(SETS) and args.limit is None:  # the rule is about every set, whole
        out += [
            "",
            f"Decision: **{verdict}** (rule: adopt only if on every set int8's MAE, SAD and IoU are each within "
            f"{DECISION_LIMIT:.0%} of f32's; worst relative loss per set: {worst_text}).",
        ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
