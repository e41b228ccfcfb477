"""Cache both models' raw 320-px masks for several views of every evaluation image, for `bench.cascade_eval`.

    python -m bench.cascade_cache [--sets duts-te-150,...]   (writes ~/.cache/bgremover-cascade/)

Each image is shown to u2netp and u2net as `processing.segment` shows it (the app's own registry,
backend and precision as `auto` picks them): plain, mirrored, brightened (gamma 0.8), both, and
gamma 0.65. The cache never goes into the repository.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.quality import SETS, pairs
from bgremover.models.registry import ModelRegistry
from bgremover.processing import decode as decoding
from bgremover.processing.segment import View, run_views
from bgremover.settings import load_settings

CACHE = Path.home() / ".cache" / "bgremover-cascade"
VIEWS = {
    "p": View(),
    "m": View(mirrored=True),
    "g": View(gamma=0.8),
    "gm": View(gamma=0.8, mirrored=True),
    "g65": View(gamma=0.65),
}
MODELS = ("u2netp", "u2net")


def main() -> None:
    """Fill the cache for every image of the chosen sets (skips images already cached)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--views", default=",".join(VIEWS), help="which views to cache (the default plans need p,m,g)")
    args = parser.parse_args()
    views = {key: VIEWS[key] for key in args.views.split(",")}
    settings = load_settings()
    registry = ModelRegistry.from_settings(settings)
    models = {name: registry.load(name) for name in MODELS}
    limits = decoding.Limits(50, 8192, 8192 * 8192)
    tag = f"{registry.inference.backend}-{registry.precision_label('+').replace(' ', '-')}"
    for name in args.sets.split(","):
        folder = CACHE / tag / name
        folder.mkdir(parents=True, exist_ok=True)
        for image, _mask in tqdm(pairs(args.data.resolve() / name, None), desc=name, unit="img"):
            target = folder / f"{image.stem}.npz"
            if target.exists():
                continue
            rgb = decoding.decode(image.read_bytes(), limits).rgb
            found = {}
            for model_name, model in models.items():
                small = model.resize(rgb)
                for key, mask in zip(views, run_views(small, model, list(views.values())), strict=True):
                    found[f"{model_name}_{key}"] = mask.astype(np.float16)
            np.savez_compressed(target, **found)


if __name__ == "__main__":
    main()
