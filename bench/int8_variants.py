"""int8 build variants of u2netp on every quality set: how the recipe's activation ranges were chosen.

    python -m bench.int8_variants [--variants minmax,bias,mixed,histogram,quantile] [--limit N]

Each variant is plain NNCF quantization with the recipe's calibration and its layers kept in f32
(bgremover/models/int8_build.py), changing one thing: the preset, full bias correction, or the estimator of
the activations' ranges. Each is built into a temporary folder (about 30-90 s each), then every set is
run through the raw model mask (as `python -m bench.int8`) for f32 and every variant, and the change of
MAE, SAD and IoU against f32 is printed. The decision rule is bench.int8's: within 2% on every set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.int8 import DECISION_LIMIT, MODEL, evaluate, relative, segmenter
from bench.quality import SETS
from bgremover.models.int8 import RECIPES
from bgremover.models.int8_build import calibration_tensors
from bgremover.models.provision import model_file


def variants() -> dict[str, dict[str, Any]]:
    """nncf.quantize keyword arguments per variant (the recipe's preset and ignored layers are added)."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet as Ranges

    def ranges(estimator: Any) -> dict[str, Any]:
        return {"advanced_parameters": AdvancedQuantizationParameters(activations_range_estimator_params=estimator)}

    return {
        "minmax": {},  # NNCF's default ranges (the accuracy-control build of 2026-11-23)
        "bias": {"fast_bias_correction": False},
        "mixed": {"preset": nncf.QuantizationPreset.MIXED},
        "histogram": ranges(Ranges.HISTOGRAM),  # the recipe
        "quantile": ranges(Ranges.MEAN_QUANTILE),
    }


def main() -> None:
    """Build the variants, evaluate them beside f32, print markdown."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_data = os.environ.get("BGREMOVER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--variants", default=",".join(["minmax", "bias", "mixed", "histogram", "quantile"]))
    parser.add_argument("--limit", type=int, default=None, help="images per set (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("NNCF_CI", "1")  # NNCF's telemetry stub: no events sent
    import nncf
    import openvino as ov

    onnx = model_file(MODEL, Path(os.environ.get("U2NET_HOME", "~/.u2net")).expanduser())
    assert onnx is not None, f"{MODEL}.onnx not found (run `make model`)"
    recipe, table = RECIPES[MODEL], variants()
    chosen = args.variants.split(",")
    items = calibration_tensors(MODEL)
    with tempfile.TemporaryDirectory(prefix="bgremover-int8-") as tmp:
        built = {}
        for name in chosen:
            started = time.perf_counter()
            kwargs = {"preset": nncf.QuantizationPreset(recipe.preset), **table[name]}
            quantized = nncf.quantize(
                ov.Core().read_model(str(onnx)),
                nncf.Dataset(items),
                subset_size=len(items),
                ignored_scope=nncf.IgnoredScope(names=list(recipe.keep_f32)),
                **kwargs,
            )
            built[name] = Path(tmp) / f"{name}.xml"
            ov.save_model(quantized, str(built[name]), compress_to_fp16=False)
            print(f"{name}: built in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        models = {"f32": segmenter(onnx, "f32", 1), **{n: segmenter(p, "f32", 1) for n, p in built.items()}}
        print(f"Raw model mask against ground truth, change against f32 (limit {DECISION_LIMIT:.0%} on every set)\n")
        print("| set | variant | MAE Δ | SAD Δ | IoU Δ | mean abs Δ vs f32 |\n|---|---|---|---|---|---|")
        for set_name in SETS:
            res = evaluate(args.data / set_name, models, args.limit)
            f32 = res["f32"]
            for name in chosen:
                r = res[name]
                print(
                    f"| {set_name} | {name} | {relative(r['mae'], f32['mae']):+.2%} | "
                    f"{relative(r['sad'], f32['sad']):+.2%} | {relative(r['iou'], f32['iou']):+.2%} | "
                    f"{r['delta']:.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
