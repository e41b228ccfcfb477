"""Build a model's int8 IR by its recipe: OpenVINO post-training quantization by NNCF (the `int8` extra).

Provisioning runs plain post-training quantization with the recipe's layers left out, which takes about
half a minute instead of accuracy control's twenty. Activation ranges come from histograms (NNCF's
HISTOGRAM estimator) rather than min/max, which kept every quality set within 2% of f32 where min/max did
not (bench/INT8.md). Calibration uses scikit-image's bundled photos (no download, none of them in a
quality set). NNCF is needed to build, not to serve.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bgremover.errors import ModelUnavailable
from bgremover.models.catalog import CATALOG
from bgremover.models.int8 import RECIPES, int8_dir
from bgremover.models.provision import cached_md5

# scikit-image's bundled colour photos for calibration (grey ones are used as RGB).
CALIBRATION = ("astronaut", "coffee", "chelsea", "rocket", "stereo_motorcycle", "camera", "coins")
SUBSET = 300  # NNCF's calibration subset size (bounded by the items there are)


def float_convolutions(model: Any) -> list[str]:
    """Convolutions whose weights are not int8 (the ones accuracy control reverted to floating point).

    NNCF stores quantized weights as an int8 Constant → Convert → Multiply chain in front of the Convolution.
    """
    names = []
    for op in model.get_ops():
        if op.get_type_name() != "Convolution":
            continue
        node, types = op.input_value(1).get_node(), set()
        for _ in range(4):
            types.add(node.get_output_element_type(0).get_type_name())
            if not node.input_values():
                break
            node = node.input_value(0).get_node()
        if not types & {"i8", "u8"}:
            names.append(op.get_friendly_name())
    return sorted(names)


def calibration_photos() -> list[np.ndarray]:
    """scikit-image's bundled photos as RGB uint8 (both views of the stereo pair)."""
    from skimage import data

    photos = []
    for name in CALIBRATION:
        loaded = getattr(data, name)()
        for img in loaded[:2] if isinstance(loaded, tuple) else (loaded,):
            photos.append(np.dstack([img] * 3) if img.ndim == 2 else img[..., :3])
    return photos


def _crop(rgb: np.ndarray, top: float, left: float, frac: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    ch, cw = round(h * frac), round(w * frac)
    y, x = round((h - ch) * top), round((w - cw) * left)
    return np.ascontiguousarray(rgb[y : y + ch, x : x + cw])


def augmented(rgb: np.ndarray) -> list[np.ndarray]:
    """Six views of a photo: itself, mirrored, three crops and a brighter gamma."""
    lut = np.round(255.0 * (np.arange(256) / 255.0) ** 0.8).astype(np.uint8)
    return [
        rgb,
        np.ascontiguousarray(rgb[:, ::-1]),
        _crop(rgb, 0.5, 0.5, 0.8),
        _crop(rgb, 0.0, 0.0, 0.7),
        np.ascontiguousarray(_crop(rgb, 1.0, 1.0, 0.7)[:, ::-1]),
        lut[rgb],
    ]


def calibration_tensors(name: str, views: int = 6) -> list[np.ndarray]:
    """The model's input tensors (1×3×S×S) for the first `views` calibration views of each photo, as the engine
    makes them."""
    spec = CATALOG[name]
    return [spec.tensor(spec.resize(v)[None]) for p in calibration_photos() for v in augmented(p)[:views]]


def nncf_installed() -> bool:
    """Whether NNCF (the int8 extra) can be imported here, found without importing it."""
    return importlib.util.find_spec("nncf") is not None


def build_int8(name: str, source: Path, home: Path) -> Path:
    """Quantize the model file by its recipe into int8_dir (replacing what is there); ModelUnavailable if it cannot."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise ModelUnavailable(f"No int8 build of '{name}' has been validated; use INFERENCE_PRECISION=auto or f32")
    if cached_md5(source) != recipe.source_md5:
        raise ModelUnavailable(f"{source} is not the '{name}' file the int8 recipe was validated on")
    try:
        import nncf
        import openvino as ov
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet
    except ImportError as exc:
        raise ModelUnavailable(
            f"Building int8 '{name}' needs {exc.name}: install the int8 extra (pip install '.[int8]' or "
            "pip install -r requirements-int8.txt), or set INFERENCE_PRECISION=auto"
        ) from None
    # With NNCF_CI set, NNCF swaps its telemetry for a stub (nncf/telemetry/wrapper.py): it sends no events.
    os.environ.setdefault("NNCF_CI", "1")
    nncf.set_log_level(logging.WARNING)  # its per-layer INFO lines would bury the CLI's own output
    started = time.perf_counter()
    model: Any = ov.Core().read_model(str(source))
    items = calibration_tensors(name, recipe.views)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(items),
        preset=nncf.QuantizationPreset(recipe.preset),
        subset_size=min(SUBSET, len(items)),
        ignored_scope=nncf.IgnoredScope(names=list(recipe.keep_f32), validate=True),
        advanced_parameters=AdvancedQuantizationParameters(
            activations_range_estimator_params=getattr(RangeEstimatorParametersSet, recipe.activation_ranges)
        ),
    )
    folder = int8_dir(name, home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "build.json").unlink(missing_ok=True)  # written last: a build cut short is never taken as done
    partial = folder / f".{name}-int8.partial.xml"
    ov.save_model(quantized, str(partial), compress_to_fp16=False)
    os.replace(partial.with_suffix(".bin"), folder / f"{name}-int8.bin")
    os.replace(partial, folder / f"{name}-int8.xml")
    meta = {
        **recipe.signature(),
        "nncf": nncf.__version__,
        "openvino": ov.__version__,
        "calibration_items": len(items),
        "build_seconds": round(time.perf_counter() - started, 1),
        "built": date.today().isoformat(),
    }
    (folder / "build.json").write_text(json.dumps(meta, indent=2))
    return folder / f"{name}-int8.xml"


def build_all(sources: dict[str, Path], home: Path) -> dict[str, Path]:
    """Build several models' int8 IRs (name → ONNX file) at once, each in a process of its own; ModelUnavailable
    if one cannot be built.

    NNCF's statistics spend about half of a build in numpy's single-threaded histograms between the model's
    multi-threaded passes, so two builds side by side keep both cores busy.
    """
    if len(sources) < 2:
        return {name: build_int8(name, source, home) for name, source in sources.items()}
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no OpenVINO thread pool forked
    with ProcessPoolExecutor(max_workers=len(sources), mp_context=context) as pool:
        futures = {name: pool.submit(build_int8, name, source, home) for name, source in sources.items()}
        return {name: future.result() for name, future in futures.items()}
