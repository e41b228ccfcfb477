"""Certainty as a triage signal (docs/quality.md): does the fifth a signal is least sure of hold most of the error?

    python -m bench.triage [--data ../shared/data] [--sets duts-te-150,...] [--limit N]

Every image runs as the engine runs `refine=standard` (the primary model, the cascade model where the gate
asks, the same refinement), at the precision `auto` picks. The models' masks are kept on disk by the hash
of each input (MEMO, never in the repository), so a second run costs only decoding and refinement.

Per set and signal: the share of all the error (the sum of the images' MAE) held by the fifth of images the
signal is least sure of, beside the best any signal could do (the worst fifth's own share); the ROC AUC of
the signal against "in the worst fifth"; and, for the engine's certainty, the images below UNSURE_CERTAINTY.
Every signal but the one marked "paid" is free: it reads only the masks that ran and the matte the engine makes
anyway; the paid one asks the cascade model of every image, to show what a second opinion everywhere would buy.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from bench.host import describe
from bench.quality import metrics, pairs, set_arguments
from bgremover.models.registry import ModelRegistry
from bgremover.models.session import Segmenter
from bgremover.processing import decode as decoding
from bgremover.processing import refine as refining
from bgremover.processing import segment as segmenting
from bgremover.processing.segment import PLAIN, UNSURE_CERTAINTY, Segmentation, View, plan_for
from bgremover.settings import load_settings

MEMO = Path.home() / ".cache" / "bgremover-triage"
LEVEL = "standard"  # the default level: what a person triaging a folder gets
FIFTH = 0.2
THRESHOLDS = (0.85, 0.88, 0.9, 0.92, 0.93, 0.94, 0.95, 0.96)  # the certainty thresholds whose flagged share is tabled
BANDS = (0.0, 0.8, 0.85, 0.88, 0.9, 0.94, 0.96, 0.98, 1.0001)  # the certainty bands whose mean error is tabled


class Memo:
    """A model whose mask for each input is kept on disk by the input's hash, so a re-run skips inference."""

    def __init__(self, model: Segmenter, folder: Path) -> None:
        self.model, self.size, self.folder = model, model.size, folder
        folder.mkdir(parents=True, exist_ok=True)

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """As the model resizes."""
        return self.model.resize(rgb)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The model's masks, from disk where this input was seen before (stored and returned as float16 values)."""
        out = []
        for image in images:
            path = self.folder / f"{hashlib.sha256(image.tobytes()).hexdigest()[:32]}.npy"
            if path.exists():
                out.append(np.load(path))
                continue
            mask = self.model.predict(image[None])[0].astype(np.float16)
            np.save(path, mask)
            out.append(mask)
        return np.stack(out).astype(np.float32)


@dataclass(frozen=True)
class Scored:
    """One image's figures: its error, and what each signal would know of it."""

    mae: float
    signals: dict[str, float]


def masks_that_ran(small: np.ndarray, primary: Memo, cascade: Memo, seg: Segmentation) -> list[np.ndarray]:
    """Every mask `segment` computed for this image, read back from the memo by the plan's views."""
    plan = plan_for(LEVEL, True)
    views: list[tuple[Memo, View]] = [(primary, PLAIN)]
    if seg.passes > 1:
        mine = plan.primary
        if plan.fallback is not None and seg.passes != 1 + len(plan.primary) + len(plan.cascade):
            mine = tuple(dict.fromkeys((*plan.primary, *plan.fallback.primary)))
        views += [(primary, view) for view in mine] + [(cascade, view) for view in plan.cascade]
    return [segmenting.run_views(small, model, [view])[0] for model, view in views]


def spread(masks: list[np.ndarray]) -> float:
    """Mean per-pixel |mask − mean of the masks|: 0 where every mask that ran agrees (or only one ran)."""
    height, width = masks[0].shape
    stack = np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in masks])
    return float(np.abs(stack - stack.mean(axis=0)).mean())


def edge_softness(alpha: np.ndarray) -> float:
    """Mean 4·a·(1 − a) of the matte in a band about its 0.5 contour (1% of the short side wide)."""
    hard = (alpha >= 0.5).astype(np.uint8)
    width = max(3, round(min(alpha.shape) * 0.01) | 1)
    kernel = np.ones((width, width), np.uint8)
    band = cv2.dilate(hard, kernel) != cv2.erode(hard, kernel)
    return float((4.0 * alpha[band] * (1.0 - alpha[band])).mean()) if band.any() else 0.0


@dataclass(frozen=True)
class Seen:
    """What the engine has in hand for one image once it is cut out: everything a free signal may read."""

    segmentation: Segmentation  # its certainty and the fused mask
    ran: list[np.ndarray]  # every mask that ran, mirrored views mapped back
    alpha: np.ndarray  # the refined full-size matte
    second: np.ndarray  # the cascade model's plain mask, asked of every image: not free


def _agreement(seen: Seen) -> float:
    return 1.0 - 4.0 * spread(seen.ran)


# Each signal, higher where the cut-out is surer.
SIGNALS: dict[str, Callable[[Seen], float]] = {
    "certainty (engine)": lambda seen: seen.segmentation.certainty,
    "certainty of the fused mask": lambda seen: 1.0 - 4.0 * segmenting.uncertainty(seen.segmentation.mask),
    "agreement of the masks that ran": _agreement,
    "matte certainty (full size)": lambda seen: 1.0 - 4.0 * segmenting.uncertainty(seen.alpha),
    "edge hardness": lambda seen: 1.0 - edge_softness(seen.alpha),
    "small subject": lambda seen: 1.0 - segmenting.subject_area(seen.alpha),
    "certainty × agreement": lambda seen: seen.segmentation.certainty * _agreement(seen),
    "agreement with the cascade model (paid)": lambda seen: 1.0 - 4.0 * spread([seen.ran[0], seen.second]),
}


def run_set(folder: Path, primary: Memo, cascade: Memo, limits: decoding.Limits, limit: int | None) -> list[Scored]:
    """Every image of a set through `refine=standard`, with its MAE and its signals."""
    found = []
    for image_path, mask_path in tqdm(pairs(folder, limit), desc=folder.name, unit="img"):
        rgb = decoding.decode(image_path.read_bytes(), limits).rgb
        truth = np.asarray(Image.open(mask_path).convert("L"))
        seg = segmenting.segment(rgb, primary, refine=LEVEL, cascade=cascade)
        alpha = refining.refine(rgb, seg.mask, LEVEL)
        small = primary.resize(rgb)
        second = segmenting.run_views(small if cascade.size == primary.size else cascade.resize(rgb), cascade, [PLAIN])
        seen = Seen(seg, masks_that_ran(small, primary, cascade, seg), alpha, second[0])
        found.append(Scored(metrics(alpha, truth)[0], {name: signal(seen) for name, signal in SIGNALS.items()}))
    return found


def fifth(count: int) -> int:
    """How many images a fifth of `count` is (at least one)."""
    return max(1, round(count * FIFTH))


def share_of_error(errors: np.ndarray, chosen: np.ndarray) -> float:
    """The share of the summed error that the chosen images (a boolean mask) hold."""
    total = errors.sum()
    return float(errors[chosen].sum() / total) if total else 0.0


def least_sure(values: np.ndarray, count: int) -> np.ndarray:
    """A boolean mask of the `count` images with the lowest values (ties broken by order, stably)."""
    chosen = np.zeros(len(values), bool)
    chosen[np.argsort(values, kind="stable")[:count]] = True
    return chosen


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of `scores` (higher: more likely positive) against a boolean truth: P(pos > neg) + ½·P(tie)."""
    pos, neg = scores[positive], scores[~positive]
    if not len(pos) or not len(neg):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


@dataclass(frozen=True)
class Figures:
    """What a signal does on one set."""

    fifth_share: float  # share of the error in the fifth it is least sure of
    best_share: float  # the worst fifth's own share
    auc: float  # against "in the worst fifth", scored by how unsure it is


def figures(images: list[Scored], signal: str) -> Figures:
    """A signal's triage figures on one set."""
    errors = np.array([im.mae for im in images])
    values = np.array([im.signals[signal] for im in images])
    count = fifth(len(images))
    worst = least_sure(-errors, count)
    return Figures(
        share_of_error(errors, least_sure(values, count)), share_of_error(errors, worst), auc(-values, worst)
    )


def below(images: list[Scored], threshold: float, signal: str = "certainty (engine)") -> tuple[float, float, float]:
    """Images below a threshold of a signal: (their share of the images, of the error, of the worst fifth)."""
    errors = np.array([im.mae for im in images])
    low = np.array([im.signals[signal] < threshold for im in images])
    worst = least_sure(-errors, fifth(len(images)))
    return float(low.mean()), share_of_error(errors, low), float((low & worst).sum() / worst.sum())


def bands(images: list[Scored], signal: str = "certainty (engine)") -> list[tuple[float, float, int, float]]:
    """Per band of a signal: (low, high, images in it, their mean MAE ÷ the set's mean MAE; 0 where none)."""
    errors = np.array([im.mae for im in images])
    values = np.array([im.signals[signal] for im in images])
    found = []
    for low, high in itertools.pairwise(BANDS):
        inside = (values >= low) & (values < high)
        ratio = float(errors[inside].mean() / errors.mean()) if inside.any() and errors.mean() else 0.0
        found.append((low, high, int(inside.sum()), ratio))
    return found


def table(name: str, images: list[Scored]) -> str:
    """A markdown table of one set: each signal's figures, then the certainty's thresholds."""
    count = fifth(len(images))
    lines = [
        f"#### {name} ({len(images)} images; a fifth is {count})",
        "",
        "| signal | least sure fifth: share of all error | best possible (worst fifth) | ROC AUC vs worst fifth |",
        "|---|---|---|---|",
    ]
    for signal in SIGNALS:
        got = figures(images, signal)
        lines.append(f"| {signal} | {got.fifth_share:.0%} | {got.best_share:.0%} | {got.auc:.3f} |")
    lines += [
        "",
        "| certainty below | share of images | share of all error | of the worst fifth |",
        "|---|---|---|---|",
    ]
    for threshold in THRESHOLDS:
        flagged, error, caught = below(images, threshold)
        mark = " (UNSURE_CERTAINTY)" if threshold == UNSURE_CERTAINTY else ""
        lines.append(f"| {threshold}{mark} | {flagged:.0%} | {error:.0%} | {caught:.0%} |")
    found = bands(images)
    heads = [f"[{low:g}, {min(high, 1):g}{']' if high > 1 else ')'}" for low, high, _, _ in found]
    lines += [
        "",
        "| certainty in | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(found),
        "| images | " + " | ".join(str(count) for _, _, count, _ in found) + " |",
        "| mean MAE ÷ the set's | "
        + " | ".join(f"{ratio:.2f}" if count else "—" for _, _, count, ratio in found)
        + " |",
    ]
    return "\n".join(lines)


def main() -> None:
    """Run every set and print the markdown tables."""
    parser = set_arguments(
        argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    )
    args = parser.parse_args()
    settings = load_settings()
    cv2.setNumThreads(1)
    registry = ModelRegistry.from_settings(settings)
    if not settings.cascade_model:
        parser.error("the triage figures are of the default cascade: set CASCADE_MODEL")
    loaded = [registry.load(name) for name in (settings.model_name, settings.cascade_model)]
    tag = f"{registry.inference.backend}-{registry.precision_label('+').replace(' ', '-')}"
    primary, cascade = (Memo(model, MEMO / tag / model.name) for model in loaded)
    limits = decoding.Limits(settings.min_image_side, 8192, 8192 * 8192)
    out = [
        f"### Triage, `refine={LEVEL}`, `{settings.model_name}` → `{settings.cascade_model}`, {date.today()}, "
        f"{describe()}, {registry.inference.backend} {registry.precision_label()}",
        "",
        "Command: `make triage`",
        "",
    ]
    for name in args.sets.split(","):
        out += [table(name, run_set(args.data.resolve() / name, primary, cascade, limits, args.limit)), ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
