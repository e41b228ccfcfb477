"""Cache u2netp's raw masks for several views of every evaluation image, for `bench.views_eval`.

    python -m bench.views_cache   (writes ~/.cache/bgremover-views/, never into the repository)

Views: 320 and 384 px, each plain and mirrored, plus 320 px brightened (gamma 0.8); on OpenVINO with the
precision hint bf16, which runs f32 on a CPU without bf16, and 320 px at f32 for comparison.
"""

from pathlib import Path

import numpy as np
import openvino as ov

from bench.quality import pairs
from bgremover.processing import decode as D
from bgremover.processing.segment import model_input

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
core = ov.Core()
MEAN = np.array((0.485, 0.456, 0.406), np.float32)
STD = np.array((0.229, 0.224, 0.225), np.float32)
compiled = {}


def run(batch, prec):
    n, s = batch.shape[0], batch.shape[1]
    key = (n, s, prec)
    if key not in compiled:
        m = core.read_model(str(Path.home() / ".u2net/u2netp.onnx"))
        m.reshape({m.inputs[0].get_any_name(): [n, 3, s, s]})
        compiled[key] = core.compile_model(
            m,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": prec,
                "INFERENCE_NUM_THREADS": 1,
                "ENABLE_CPU_PINNING": False,
                "PERFORMANCE_HINT": "LATENCY",
            },
        )
    x = batch.astype(np.float32)
    x *= 1.0 / np.maximum(x.max(axis=(1, 2, 3), keepdims=True), 1e-6)
    x = ((x - MEAN) / STD).transpose(0, 3, 1, 2)
    out = compiled[key](np.ascontiguousarray(x))[0][:, 0]
    lo = out.min(axis=(1, 2), keepdims=True)
    hi = out.max(axis=(1, 2), keepdims=True)
    return ((out - lo) / np.maximum(hi - lo, 1e-6)).astype(np.float32)


lut = np.round(255.0 * (np.arange(256) / 255.0) ** 0.8).astype(np.uint8)
out = Path.home() / ".cache" / "bgremover-views"
out.mkdir(parents=True, exist_ok=True)
lim = D.Limits(50, 8192, 8192 * 8192)
for name in ("duts-te-150", "alphamatting-train-lowres", "dis5k-mini"):
    for img, _mask in pairs(DATA / name, None):
        f = out / f"{name}__{img.stem}.npz"
        if f.exists():
            continue
        rgb = D.decode(img.read_bytes(), lim).rgb
        res = {}
        for s in (320, 384):
            small = model_input(rgb, s)
            b = np.stack([small, np.ascontiguousarray(small[:, ::-1])] + ([lut[small]] if s == 320 else []))
            m = run(b, "bf16")
            res[f"bf{s}"], res[f"bf{s}m"] = m[0], m[1][:, ::-1]
            if s == 320:
                res["bf320g"] = m[2]
            if s == 320:
                res["f320"] = run(b[:1], "f32")[0]
        np.savez_compressed(f, **res)
    print(name, "done", flush=True)
