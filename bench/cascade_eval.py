"""Score cascade strategies (gate, views of each model, fusion) on `bench.cascade_cache`'s masks.

    python -m bench.cascade_eval [--sets duts-te-150,...] [--only NAME,NAME]

Each strategy's mask is refined at `standard` exactly as the engine refines it, then scored (MAE, IoU,
SAD) against ground truth; printed beside the mean passes of each model per image and the gate rate.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench.cascade_cache import CACHE
from bench.quality import SETS, metrics, pairs
from bgremover.processing import decode as decoding
from bgremover.processing import refine as refining

Masks = dict[str, np.ndarray]
Strategy = Callable[[Masks], tuple[str, np.ndarray, int, int]]  # → (memo key, mask, u2netp passes, u2net passes)


def unc(m: np.ndarray) -> float:
    """Mean a·(1 − a)."""
    return float(np.mean(m * (1 - m)))


def med(*ms: np.ndarray) -> np.ndarray:
    """Per-pixel median."""
    return np.median(np.stack(ms), axis=0).astype(np.float32)


def avg(*ms: np.ndarray) -> np.ndarray:
    """Per-pixel mean."""
    return np.mean(np.stack(ms), axis=0).astype(np.float32)


def sharp(m: np.ndarray, k: float = 2.0) -> np.ndarray:
    """Re-sharpen an average about 0.5."""
    return np.clip((m - 0.5) * k + 0.5, 0, 1).astype(np.float32)


FUSIONS: dict[str, tuple[Callable[[Masks], np.ndarray], int, int]] = {
    "P": (lambda d: d["u2netp_p"], 1, 0),
    "Pmed3": (lambda d: med(d["u2netp_p"], d["u2netp_g"], d["u2netp_m"]), 3, 0),
    "Pmed5": (lambda d: med(*(d[f"u2netp_{k}"] for k in ("p", "m", "g", "gm", "g65"))), 5, 0),
    "N": (lambda d: d["u2net_p"], 1, 1),
    "Navg2": (lambda d: avg(d["u2net_p"], d["u2net_m"]), 1, 2),
    "Nsharp2": (lambda d: sharp(avg(d["u2net_p"], d["u2net_m"])), 1, 2),
    "Nmed3": (lambda d: med(d["u2net_p"], d["u2net_m"], d["u2net_g"]), 1, 3),
    "med_PpPmN": (lambda d: med(d["u2netp_p"], d["u2netp_m"], d["u2net_p"]), 2, 1),
    "med_PpNNm": (lambda d: med(d["u2netp_p"], d["u2net_p"], d["u2net_m"]), 1, 2),
    "avg_PpN": (lambda d: avg(d["u2netp_p"], d["u2net_p"]), 1, 1),
    "sharp_PpN": (lambda d: sharp(avg(d["u2netp_p"], d["u2net_p"])), 1, 1),
    "avg_PpNNm": (lambda d: avg(d["u2netp_p"], d["u2net_p"], d["u2net_m"]), 1, 2),
    "sharp_PpNNm": (lambda d: sharp(avg(d["u2netp_p"], d["u2net_p"], d["u2net_m"])), 1, 2),
    "avg_PpPmNNm": (lambda d: avg(d["u2netp_p"], d["u2netp_m"], d["u2net_p"], d["u2net_m"]), 2, 2),
    "sharp_PpPmNNm": (lambda d: sharp(avg(d["u2netp_p"], d["u2netp_m"], d["u2net_p"], d["u2net_m"])), 2, 2),
    "med_PpPgPmNNm": (
        lambda d: med(d["u2netp_p"], d["u2netp_g"], d["u2netp_m"], d["u2net_p"], d["u2net_m"]),
        3,
        2,
    ),
    "med_PpPmNNmNg": (
        lambda d: med(d["u2netp_p"], d["u2netp_m"], d["u2net_p"], d["u2net_m"], d["u2net_g"]),
        2,
        3,
    ),
    "med_P5N5": (
        lambda d: med(*(d[f"{m}_{k}"] for m in ("u2netp", "u2net") for k in ("p", "m", "g", "gm", "g65"))),
        5,
        5,
    ),
    "med_P3N3": (
        lambda d: med(*(d[f"{m}_{k}"] for m in ("u2netp", "u2net") for k in ("p", "m", "g"))),
        3,
        3,
    ),
    "med_P5N3": (
        lambda d: med(
            *(d[f"u2netp_{k}"] for k in ("p", "m", "g", "gm", "g65")), d["u2net_p"], d["u2net_m"], d["u2net_g"]
        ),
        5,
        3,
    ),
}


def _area(m: np.ndarray) -> float:
    return float((m >= 0.5).mean())


def rescued(fused: np.ndarray, d: Masks, fallback: np.ndarray) -> np.ndarray:
    """The fusion, unless u2net (its image and mirror) finds under a fifth of u2netp's subject: then the fallback."""
    return fallback if _area(avg(d["u2net_p"], d["u2net_m"])) < 0.2 * _area(d["u2netp_p"]) else fused


FUSIONS.update(
    {
        # the shipped plans (processing/segment.py): the cascade, with u2netp's own views where u2net sees no subject
        "cascade": (
            lambda d: rescued(
                sharp(avg(d["u2netp_p"], d["u2netp_m"], d["u2net_p"], d["u2net_m"])),
                d,
                med(d["u2netp_p"], d["u2netp_g"], d["u2netp_m"]),
            ),
            2,
            2,
        ),
        "cascade_high": (
            lambda d: rescued(
                sharp(avg(d["u2netp_p"], d["u2netp_m"], d["u2net_p"], d["u2net_m"])),
                d,
                med(*(d[f"u2netp_{k}"] for k in ("p", "m", "g", "gm", "g65"))),
            ),
            2,
            2,
        ),
        "sharp_PpPmNNm_only": (lambda d: sharp(avg(d["u2netp_p"], d["u2netp_m"], d["u2net_p"], d["u2net_m"])), 2, 2),
        # one view of each model, with the same rescue on u2net's one view
        "cascade1": (
            lambda d: (
                med(d["u2netp_p"], d["u2netp_g"], d["u2netp_m"])
                if _area(d["u2net_p"]) < 0.2 * _area(d["u2netp_p"])
                else sharp(avg(d["u2netp_p"], d["u2net_p"]))
            ),
            1,
            1,
        ),
    }
)


def tiered(low: float, high: float, middle: str, top: str) -> Strategy:
    """u2netp alone up to `low`, the `middle` fusion up to `high`, the `top` fusion above (mean a·(1 − a))."""

    def run(d: Masks) -> tuple[str, np.ndarray, int, int]:
        u = unc(d["u2netp_p"])
        if u <= low:
            return "P", d["u2netp_p"], 1, 0
        fn, p, n = FUSIONS[middle if u <= high else top]
        return (middle if u <= high else top), fn(d), p, n

    return run


def gated(threshold: float, fusion: str) -> Strategy:
    """u2netp alone where its mask is sure; the fusion where mean a·(1 − a) is above `threshold`."""

    def run(d: Masks) -> tuple[str, np.ndarray, int, int]:
        if unc(d["u2netp_p"]) <= threshold:
            return "P", d["u2netp_p"], 1, 0
        fn, p, n = FUSIONS[fusion]
        return fusion, fn(d), p, n

    return run


def always(fusion: str) -> Strategy:
    """The fusion on every image."""
    fn, p, n = FUSIONS[fusion]
    return lambda d: (fusion, fn(d), p, n)


def strategies() -> dict[str, Strategy]:
    """Every strategy by name: each fusion alone, and each fusion behind each gate."""
    out: dict[str, Strategy] = {name: always(name) for name in FUSIONS}
    for t in (0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02):
        for name in FUSIONS:
            if name != "P":
                out[f"g{t}:{name}"] = gated(t, name)
    for low in (0.0, 0.0025, 0.005):
        for high in (0.01, 0.015, 0.02):
            out[f"t{low}-{high}:cascade1>cascade"] = tiered(low, high, "cascade1", "cascade")
    return out


def main() -> None:
    """Print one table per set."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--cache", default="openvino-bf16")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    chosen = strategies()
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    limits = decoding.Limits(50, 8192, 8192 * 8192)
    for name in args.sets.split(","):
        rows: dict[str, list[tuple[float, ...]]] = {k: [] for k in chosen}
        for image, mask in pairs(args.data.resolve() / name, None):
            cached = CACHE / args.cache / name / f"{image.stem}.npz"
            if not cached.exists():
                continue
            d = {k: v.astype(np.float32) for k, v in np.load(cached).items()}
            rgb = decoding.decode(image.read_bytes(), limits).rgb
            truth = np.asarray(Image.open(mask).convert("L"))
            memo: dict[str, tuple[float, float, float]] = {}
            for label, strategy in chosen.items():
                key, m, p, n = strategy(d)
                if key not in memo:
                    memo[key] = metrics(refining.refine(rgb, m, "standard"), truth)
                rows[label].append((*memo[key], p, n, float(n > 0)))
        print(f"\n## {name} ({len(next(iter(rows.values())))} images)\n")
        print("| strategy | MAE | IoU | SAD | u2netp passes | u2net passes | gate rate |")
        print("|---|---|---|---|---|---|---|")
        for label, found in sorted(rows.items(), key=lambda kv: np.mean([r[0] for r in kv[1]])):
            mae, iou, sad, p, n, g = np.array(found).mean(axis=0)
            print(f"| {label} | {mae:.4f} | {iou:.3f} | {sad:.1f} | {p:.2f} | {n:.2f} | {g:.0%} |")


if __name__ == "__main__":
    main()
