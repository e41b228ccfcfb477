"""rembg's alpha matting (`a`, `af`, `ab`, `ae`) on our engine: `refine=high` against pymatting in a band.

    python -m bench.matting [--data ../shared/data] [--limit N]

Every method runs on the same alphamatting-train-lowres images in one run; SAD/1000 and MAE against the
true mattes, per image then averaged. The pymatting rows build rembg's trimap (mask > af: subject,
mask < ab: background, both eroded by an ae×ae square) and solve closed-form matting (Levin et al.)
for the unknown band only.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from bench.quality import metrics, pairs
from bgremover.models.registry import ModelRegistry
from bgremover.processing import refine, segment
from bgremover.processing.decode import Limits, decode
from bgremover.processing.matting import band_matte
from bgremover.settings import load_settings

REMBG_DEFAULTS = (240, 10, 10)  # rembg's af, ab, ae


def main() -> None:
    """Print one markdown table (SAD, MAE, seconds per image) and the per-image wins of the best two."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    settings = load_settings()
    registry = ModelRegistry.from_settings(settings)  # the backend and precision the server would use
    model = registry.load(settings.model_name)
    af, ab, ae = REMBG_DEFAULTS
    names = {
        "none": "`refine=none` (rembg without `a`)",
        "high": "`refine=high`",
        "band_none": "pymatting band on the raw mask (rembg's recipe)",
        "band_high": "pymatting band on `refine=high`",
    }
    rows: dict[str, list[tuple[float, float, float]]] = {key: [] for key in names}
    folder = args.data.resolve() / "alphamatting-train-lowres"
    found = pairs(folder, args.limit)
    for image_path, mask_path in tqdm(found, unit="img"):
        rgb = decode(image_path.read_bytes(), Limits()).rgb
        truth = np.asarray(Image.open(mask_path).convert("L"))
        for level in ("none", "high"):
            started = time.perf_counter()
            alpha = refine.refine(rgb, segment.segment(rgb, model, refine=level).mask, level)
            base = time.perf_counter() - started
            started = time.perf_counter()
            matted = band_matte(rgb, alpha, af, ab, ae)
            band = time.perf_counter() - started
            for key, result, seconds in ((level, alpha, base), (f"band_{level}", matted, base + band)):
                mae, _, sad = metrics(result, truth)
                rows[key].append((sad, mae, seconds))
    print(
        f"alphamatting-train-lowres ({len(found)} images), af={af} ab={ab} ae={ae}, `{settings.model_name}`, "
        f"MODEL_THREADS={settings.model_threads}, {registry.inference.backend} {registry.precision_label()}\n"
    )
    print("| method | SAD ↓ | MAE ↓ | s/image |\n|---|---|---|---|")
    for key, values in rows.items():
        sad, mae, secs = np.mean(np.array(values), axis=0)
        print(f"| {names[key]} | {sad:.1f} | {mae:.4f} | {secs:.2f} |")
    high, band = np.array(rows["high"])[:, 0], np.array(rows["band_high"])[:, 0]
    print(
        f"\npymatting band on `refine=high` vs `refine=high`, per image: {int((band < high).sum())} lower SAD, "
        f"{int((band > high).sum())} higher; median change {np.median(band - high):+.2f}"
    )


if __name__ == "__main__":
    main()
