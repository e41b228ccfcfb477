"""Layout of a cut-out (remove.bg's options): region of interest, crop with margins, scale and position,
megapixel caps, and a background image. Pure functions on RGB uint8 and alpha float32 arrays."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import ExifTags

from bgremover.processing import decode, geometry

MAX_MARGIN_PX = 500  # a crop margin is at most this many pixels…
MAX_MARGIN_SHARE = 0.5  # …and at most this share of the subject's size on that axis
Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


@dataclass(frozen=True)
class Length:
    """A length in pixels, or in percent of a reference length (remove.bg's "30px" / "10%")."""

    value: float
    relative: bool

    def to_px(self, reference: float) -> float:
        """The length in pixels, percentages taken of `reference`."""
        return self.value * reference / 100.0 if self.relative else self.value


def oriented_size(data: bytes, limits: decode.Limits) -> tuple[int, int]:
    """(width, height) of the image as shown, EXIF orientation applied, from its header only."""
    with decode.open_checked(data, limits) as image:
        width, height = image.size
        transposed = image.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8)
    return (height, width) if transposed else (width, height)


def megapixel_fit(width: int, height: int, max_pixels: int | None) -> int | None:
    """The side of a square box that brings the image to at most `max_pixels`, or None if it is small enough.

    A square of the scaled longer side fits the image whichever way EXIF turns it.
    """
    if max_pixels is None or width * height <= max_pixels:
        return None
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(max(width, height) * scale))


def subject_box(alpha: np.ndarray) -> Box | None:
    """The subject's bounding box (alpha above the trim threshold), or None if there is no subject."""
    return geometry.trim_box(alpha, 0)


def keep_region(alpha: np.ndarray, box: Box) -> np.ndarray:
    """Alpha with everything outside the box made background, in place."""
    left, top, right, bottom = box
    alpha[:top] = 0.0
    alpha[bottom:] = 0.0
    alpha[:, :left] = 0.0
    alpha[:, right:] = 0.0
    return alpha


def clamp_margins(margins: tuple[Length, Length, Length, Length], box: Box) -> tuple[int, int, int, int]:
    """(top, right, bottom, left) in pixels: percentages of the subject's size, each capped as remove.bg does."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    refs = (height, width, height, width)
    return tuple(  # type: ignore[return-value]
        round(min(m.to_px(ref), MAX_MARGIN_SHARE * ref, MAX_MARGIN_PX)) for m, ref in zip(margins, refs, strict=True)
    )


def crop(
    rgb: np.ndarray, alpha: np.ndarray, box: Box, margins: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The box plus margins; where the margins reach past the image, transparent pixels are added."""
    top_m, right_m, bottom_m, left_m = margins
    left, top, right, bottom = box[0] - left_m, box[1] - top_m, box[2] + right_m, box[3] + bottom_m
    height, width = alpha.shape
    pad = (max(0, -top), max(0, bottom - height), max(0, -left), max(0, right - width))
    rgb = rgb[max(0, top) : bottom, max(0, left) : right]
    alpha = alpha[max(0, top) : bottom, max(0, left) : right]
    if any(pad):
        rgb = cv2.copyMakeBorder(rgb, *pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        alpha = cv2.copyMakeBorder(alpha, *pad, cv2.BORDER_CONSTANT, value=0)
    return rgb, alpha


def place(
    rgb: np.ndarray, alpha: np.ndarray, scale: float | None, position: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The subject scaled so its larger side is `scale` of the canvas and placed at `position` (0–1 each).

    With `position` None, the subject keeps its centre (clamped so it stays whole on the canvas).
    """
    box = subject_box(alpha)
    if box is None or (scale is None and position is None):
        return rgb, alpha
    left, top, right, bottom = box
    height, width = alpha.shape
    sub_w, sub_h = right - left, bottom - top
    factor = 1.0 if scale is None else scale / max(sub_w / width, sub_h / height)
    new_w, new_h = max(1, min(width, round(sub_w * factor))), max(1, min(height, round(sub_h * factor)))
    shrink = new_w < sub_w
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    sub_rgb = cv2.resize(rgb[top:bottom, left:right], (new_w, new_h), interpolation=interpolation)
    sub_alpha = np.clip(cv2.resize(alpha[top:bottom, left:right], (new_w, new_h), interpolation=interpolation), 0, 1)
    if position is None:
        x = min(max(0, round((left + right) / 2 - new_w / 2)), width - new_w)
        y = min(max(0, round((top + bottom) / 2 - new_h / 2)), height - new_h)
    else:
        x, y = round(position[0] * (width - new_w)), round(position[1] * (height - new_h))
    out_rgb = np.zeros_like(rgb)
    out_alpha = np.zeros_like(alpha)
    out_rgb[y : y + new_h, x : x + new_w] = sub_rgb
    out_alpha[y : y + new_h, x : x + new_w] = sub_alpha
    return out_rgb, out_alpha


def cover(background: np.ndarray, width: int, height: int) -> np.ndarray:
    """The background resized to fill width × height with its aspect ratio kept, centred and cut to size."""
    bg_h, bg_w = background.shape[:2]
    if (bg_w, bg_h) == (width, height):
        return background
    scale = max(width / bg_w, height / bg_h)
    size = (max(width, round(bg_w * scale)), max(height, round(bg_h * scale)))
    resized = cv2.resize(background, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x, y = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(resized[y : y + height, x : x + width])


def has_transparency(alpha: np.ndarray) -> bool:
    """True when some pixel would not be fully opaque once stored in 8 bits."""
    return bool(alpha.size) and float(alpha.min()) < 254.5 / 255.0
