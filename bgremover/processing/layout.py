"""Layout of a cut-out (remove.bg's options): region of interest, crop with margins, scale and position,
megapixel caps, and a background image. Pure functions on RGB uint8 and alpha float32 arrays, and the
job steps that apply them to a cut-out: `fit`, `layout`, `background` and `format`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import cv2
import numpy as np
from PIL import ExifTags

from bgremover.errors import ForegroundNotFound, InvalidOption
from bgremover.processing import compose, decode, geometry
from bgremover.processing.job import Cutout
from bgremover.processing.options import Options

MAX_MARGIN_PX = 500  # a crop margin is at most this many pixels…
MAX_MARGIN_SHARE = 0.5  # …and at most this share of the subject's size on that axis
Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)
Margins = tuple["Length", "Length", "Length", "Length"]  # top, right, bottom, left


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


def region(roi: tuple[Length, Length, Length, Length], source: tuple[int, int], size: tuple[int, int]) -> Box:
    """A region of interest (x1 y1 x2 y2, px or % of the `source` size) as a box on an image of `size`.

    The engine may have downscaled the input: the box is scaled from the source's pixels to `size`'s.
    """
    sx, sy = size[0] / source[0], size[1] / source[1]
    x1, y1, x2, y2 = roi
    left, right = round(x1.to_px(source[0]) * sx), round(x2.to_px(source[0]) * sx)
    top, bottom = round(y1.to_px(source[1]) * sy), round(y2.to_px(source[1]) * sy)
    if right <= left or bottom <= top:
        raise InvalidOption(
            "Invalid parameter 'roi': expected x1 < x2 and y1 < y2",
            hint="Set 'roi' to x1 < x2 and y1 < y2",
            details=f"Got {' '.join(map(str, roi))[:100]!r}",
        )
    return left, top, right, bottom


def auto_format(alpha: np.ndarray, opaque_background: bool, alpha_only: bool) -> str:
    """remove.bg's `format=auto`: PNG when the result has transparency (or is the matte alone), else JPEG."""
    if alpha_only or (not opaque_background and has_transparency(alpha)):
        return "PNG"
    return "JPEG"


@dataclass(frozen=True)
class PixelCap:
    """The `fit` step: at most `max_pixels`, worked out from the header so that JPEG can decode smaller."""

    max_pixels: int
    name: ClassVar[str] = "fit"

    def options_for(self, options: Options, width: int, height: int) -> Options:
        """The options for an image of this size (as shown): a fit box when it has more pixels than the cap."""
        side = megapixel_fit(width, height, self.max_pixels)
        return options if side is None else replace(options, max_width=side, max_height=side)

    def run(self, cutout: Cutout) -> None:
        """Set the cut-out's size box from its header."""
        cutout.options = self.options_for(cutout.options, *oriented_size(cutout.data, cutout.limits))


@dataclass(frozen=True)
class Arrange:
    """The `layout` step: region of interest, crop with margins, scale and position; the subject's box, or a 400."""

    roi: tuple[Length, Length, Length, Length] | None = None
    crop: bool = False
    margins: Margins = (Length(0, False),) * 4
    scale: float | None = None
    position: tuple[float, float] | None = None
    name: ClassVar[str] = "layout"

    def run(self, cutout: Cutout) -> None:
        """Lay out the cut-out in place and set its subject box (ForegroundNotFound when nothing is left)."""
        if self.roi is not None:
            height, width = cutout.alpha.shape
            keep_region(cutout.alpha, region(self.roi, oriented_size(cutout.data, cutout.limits), (width, height)))
        if self.crop:
            box = subject_box(cutout.alpha)
            if box is not None:
                cutout.rgb, cutout.alpha = crop(cutout.rgb, cutout.alpha, box, clamp_margins(self.margins, box))
        cutout.rgb, cutout.alpha = place(cutout.rgb, cutout.alpha, self.scale, self.position)
        cutout.subject = subject_box(cutout.alpha)
        if cutout.subject is None:
            raise ForegroundNotFound()


@dataclass(frozen=True)
class Backdrop:
    """The `background` step: an image (encoded bytes) behind the subject, resized to cover it."""

    data: bytes
    name: ClassVar[str] = "background"

    def run(self, cutout: Cutout) -> None:
        """Decode the image (its own transparency over white) and set it as the cut-out's background."""
        image = decode.decode(self.data, cutout.limits)
        height, width = cutout.alpha.shape
        cutout.background = cover(compose.over_white(image.rgb, image.alpha), width, height)


@dataclass(frozen=True)
class AutoFormat:
    """The `format` step: remove.bg's `auto` format, settled on the laid-out matte and its background."""

    alpha_only: bool = False
    name: ClassVar[str] = "format"

    def run(self, cutout: Cutout) -> None:
        """Set the output format: PNG when anything shows through, else JPEG."""
        color = cutout.options.bg_color
        opaque = cutout.background is not None or (color is not None and color[3] == 255)
        cutout.options = replace(cutout.options, format=auto_format(cutout.alpha, opaque, self.alpha_only))
