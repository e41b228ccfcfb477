"""Segment: the soft mask of the subject, from one model pass or, where the first is unsure, a cascade of views.

The primary model (u2netp) runs once. Where its mask is unsure (mean a·(1 − a) above the plan's gate), the
cascade model (u2net) is asked too: both models see the image and its mirror, and the mean of the four
masks, re-sharpened about 0.5, is the answer. u2net is far better on ordinary photos and fails on some
close-ups by finding almost no subject; where its subject is under a fifth of u2netp's, the plan falls back
to u2netp's own second opinion (the median of the image, a brightened copy and the mirror). `high` runs the
cascade on every image; `none` is one pass, the primary's mask as it is. Without a cascade model, `standard`
and `high` take u2netp's own second opinions. docs/quality.md has the measurements behind each number here.

Every view runs at the model's own input size, one call each (a larger size compiles another model with its
own buffers; a batch was no faster).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np


class MaskPredictor(Protocol):
    """A loaded model (see models.Segmenter): square uint8 RGB images in, float32 masks in [0, 1] out."""

    size: int

    def resize(self, rgb: np.ndarray) -> np.ndarray: ...

    def predict(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class View:
    """One way of showing the image to a model: mirrored left to right, and a gamma (< 1 brightens)."""

    mirrored: bool = False
    gamma: float = 1.0


PLAIN, MIRROR, BRIGHT = View(), View(mirrored=True), View(gamma=0.8)
Fusion = Literal["median", "sharpened-mean"]


@dataclass(frozen=True)
class Plan:
    """How one level segments: who runs which views where the first pass is unsure, and how they are fused."""

    gate: float | None  # mean a·(1 − a) of the first mask above which the rest runs (None: never; ALWAYS)
    primary: tuple[View, ...] = ()  # more views of the primary model (the first pass, PLAIN, is always there)
    cascade: tuple[View, ...] = ()  # views of the cascade model
    fusion: Fusion = "median"
    fallback: Plan | None = None  # used instead where the cascade model finds less than FALLBACK_AREA of the subject


UNSURE_CERTAINTY = 0.9  # a cut-out less sure than this is worth a person's look (docs/quality.md)
ALWAYS = -1.0  # a gate every mask is above
SHARPEN = 2.0  # a mean re-sharpened as clip((a − 0.5)·k + 0.5): averaging softens, and softness costs MAE
FALLBACK_AREA = 0.2  # the cascade model's subject area, as a share of the primary's, under which it is ignored
SECOND_OPINION = Plan(gate=0.02, primary=(BRIGHT, MIRROR))  # u2netp alone: three views, median (14-15% of images)
CASCADE = Plan(gate=0.01, primary=(MIRROR,), cascade=(PLAIN, MIRROR), fusion="sharpened-mean", fallback=SECOND_OPINION)

FIVE_VIEWS = Plan(gate=ALWAYS, primary=(MIRROR, BRIGHT, View(gamma=0.8, mirrored=True), View(gamma=0.65)))  # median

# Each level's plan, with a cascade model and without one.
PLANS: dict[tuple[str, bool], Plan] = {
    ("none", True): Plan(gate=None),
    ("none", False): Plan(gate=None),
    ("standard", True): CASCADE,
    ("standard", False): SECOND_OPINION,
    ("high", True): Plan(ALWAYS, CASCADE.primary, CASCADE.cascade, CASCADE.fusion, fallback=FIVE_VIEWS),
    ("high", False): FIVE_VIEWS,
}


@dataclass(frozen=True)
class Segmentation:
    """The soft mask (float32, [0, 1], at the model's input size), the passes of each model, and how sure it is."""

    mask: np.ndarray
    passes: int
    cascade_passes: int = 0  # of the `passes`, those of the cascade model
    certainty: float = 1.0  # 1 − 4·mean a·(1 − a) of the mean of every mask that ran: 1 is all 0s and 1s


def uncertainty(mask: np.ndarray) -> float:
    """Mean a·(1 − a): 0 for a mask of only 0s and 1s, 0.25 for one of only 0.5s."""
    return float(np.mean(mask * (1.0 - mask)))


def _gamma(rgb: np.ndarray, gamma: float) -> np.ndarray:
    lut = np.round(255.0 * (np.arange(256) / 255.0) ** gamma).astype(np.uint8)
    return lut[rgb]


def run_views(small: np.ndarray, model: MaskPredictor, views: Sequence[View]) -> list[np.ndarray]:
    """The model's mask for each view of an image already at its input size, mirrored views mapped back."""
    masks = []
    for view in views:
        shown = np.ascontiguousarray(small[:, ::-1]) if view.mirrored else small
        if view.gamma != 1.0:
            shown = _gamma(shown, view.gamma)
        mask = model.predict(shown[None])[0]
        masks.append(np.ascontiguousarray(mask[:, ::-1]) if view.mirrored else mask)
    return masks


def median(masks: Sequence[np.ndarray]) -> np.ndarray:
    """The per-pixel median of masks of one size."""
    return np.median(np.stack(masks), axis=0).astype(np.float32)


def sharpened_mean(masks: Sequence[np.ndarray], k: float = SHARPEN) -> np.ndarray:
    """The per-pixel mean, re-sharpened about 0.5 by `k` and clipped to [0, 1]."""
    out = np.stack(masks).mean(axis=0, dtype=np.float32)
    out -= 0.5
    out *= k
    out += 0.5
    return np.clip(out, 0.0, 1.0, out=out)


def fuse(masks: Sequence[np.ndarray], fusion: Fusion) -> np.ndarray:
    """Masks of one size fused as the plan says."""
    return median(masks) if fusion == "median" else sharpened_mean(masks)


def certainty(masks: Sequence[np.ndarray]) -> float:
    """1 − 4·uncertainty of the mean of the masks: low where a mask is soft or the masks disagree."""
    return round(1.0 - 4.0 * uncertainty(np.mean(np.stack(masks), axis=0)), 4)


def subject_area(mask: np.ndarray) -> float:
    """The share of the mask at or above 0.5."""
    return float(np.count_nonzero(mask >= 0.5)) / mask.size


def plan_for(refine: str, cascade: bool) -> Plan:
    """The plan of a refinement level, with or without a cascade model."""
    return PLANS[refine, cascade]


def segment(
    rgb: np.ndarray, model: MaskPredictor, *, refine: str, cascade: MaskPredictor | None = None
) -> Segmentation:
    """The soft mask for a refinement level (see the module's docstring for what each level runs)."""
    small = model.resize(rgb)  # resized once: every view is made from this small copy
    first = run_views(small, model, [PLAIN])[0]
    plan = plan_for(refine, cascade is not None)
    if plan.gate is None or uncertainty(first) <= plan.gate:
        return Segmentation(first, 1, certainty=certainty([first]))
    primary = [first, *run_views(small, model, plan.primary)]
    if not plan.cascade or cascade is None:
        return Segmentation(fuse(primary, plan.fusion), len(primary), certainty=certainty(primary))
    second = small if cascade.size == model.size else cascade.resize(rgb)
    theirs = run_views(second, cascade, plan.cascade)
    if plan.fallback is not None and subject_area(np.mean(theirs, axis=0)) < FALLBACK_AREA * subject_area(first):
        ran = dict(zip((PLAIN, *plan.primary), primary, strict=True))  # the primary's masks by view, the rest run once
        for view in plan.fallback.primary:
            if view not in ran:
                ran[view] = run_views(small, model, [view])[0]
        chosen = [ran[view] for view in (PLAIN, *plan.fallback.primary)]
        return Segmentation(fuse(chosen, plan.fallback.fusion), len(ran) + len(theirs), len(theirs), certainty(chosen))
    masks = primary + [_at(m, model.size) for m in theirs]
    return Segmentation(fuse(masks, plan.fusion), len(masks), len(theirs), certainty(masks))


def _at(mask: np.ndarray, size: int) -> np.ndarray:
    """A mask at another square size (bilinear), or itself when it is that size already."""
    if mask.shape == (size, size):
        return mask
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
