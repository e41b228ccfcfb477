"""Validate and decode: sniff the format from the bytes, check the header's dimensions, then decode."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from bgremover.errors import ImageTooLarge, ImageTooSmall, UndecodableImage, UnsupportedFormat
from bgremover.processing import deadline, structure

ImageFile.LOAD_TRUNCATED_IMAGES = False
# Image.open reads only the header; our own limits are checked on it before any pixel is decoded,
# so Pillow's own bomb guard (which would hide the declared size) is left to that check.
Image.MAX_IMAGE_PIXELS = None
# Decompressed PNG text (zTXt/iTXt) we never use: Pillow's default lets a 94 KB file hold 64 MiB of it.
PngImagePlugin.MAX_TEXT_MEMORY = 16 * 1024 * 1024

STRIP_ROWS = 256  # decoded pixels are copied out of Pillow in bands of this many rows

# The input formats the sniffer admits, by Pillow format name.
INPUT_MIMETYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "GIF": "image/gif",
}

# What Pillow raises on malformed data; anything else is a bug of ours and stays a 500.
PILLOW_ERRORS = (OSError, ValueError, SyntaxError, EOFError)


@dataclass(frozen=True)
class Limits:
    """Accepted image dimensions."""

    min_side: int = 50
    max_side: int = 4096
    max_pixels: int = 4096 * 4096


@dataclass
class Decoded:
    """A decoded image: 8-bit RGB pixels, the image's own alpha if it had one, and its source format."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    format: str


def sniff(data: bytes) -> str:
    """The Pillow format name of the bytes, judged by their signature only."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    raise UnsupportedFormat(details="The file's content is not a JPEG, PNG, WEBP, BMP, TIFF or GIF image")


def check_dimensions(width: int, height: int, limits: Limits) -> None:
    """Refuse sizes outside the limits, before any pixel is decoded."""
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise ImageTooLarge(
            hint=f"Resize the image to at most {limits.max_side}x{limits.max_side} pixels "
            f"({limits.max_pixels:,} pixels in all) and try again",
            details=f"Got {width}x{height}",
        )
    if width < limits.min_side or height < limits.min_side:
        raise ImageTooSmall(
            hint=f"Send an image at least {limits.min_side}x{limits.min_side} pixels",
            details=f"Got {width}x{height}",
        )


def open_checked(data: bytes, limits: Limits) -> Image.Image:
    """Open with only the sniffed format's decoder and check the header's size; pixels not yet read."""
    fmt = sniff(data)
    structure.check_container(fmt, data)
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])
    except (UnidentifiedImageError, *PILLOW_ERRORS) as exc:
        raise UndecodableImage(details=f"Invalid {fmt} header") from exc
    check_dimensions(*image.size, limits)
    structure.check_opened(image, data)
    return image


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grayscale scaled to 8 bits (Pillow's convert would clip instead)."""
    arr = np.asarray(image)
    if image.mode == "F":
        arr = np.clip(arr, 0.0, 1.0 if arr.max() <= 1.0 else 255.0)
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        return Image.fromarray((arr * scale).astype(np.uint8), "L")
    top = 65535 if arr.max() > 255 else 255
    return Image.fromarray((arr.astype(np.float32) * (255.0 / top)).round().astype(np.uint8), "L")


def _strips(image: Image.Image) -> Iterator[tuple[slice, np.ndarray]]:
    """The pixels a band of STRIP_ROWS rows at a time (np.asarray of a whole image holds two extra copies)."""
    for top in range(0, image.height, STRIP_ROWS):
        deadline.check()
        bottom = min(top + STRIP_ROWS, image.height)
        yield slice(top, bottom), np.asarray(image.crop((0, top, image.width, bottom)))


def _rgb(image: Image.Image) -> np.ndarray:
    """An RGB image's pixels copied into one numpy array, a strip at a time."""
    out = np.empty((image.height, image.width, 3), np.uint8)
    for rows, strip in _strips(image):
        out[rows] = strip
    return out


def normalise(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any Pillow mode to (RGB uint8, alpha uint8 or None); transparency in palettes becomes alpha."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = _to_8bit(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif (image.mode in ("L", "1") and "transparency" in image.info) or image.mode in ("LA", "La", "PA", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        rgb = np.empty((image.height, image.width, 3), np.uint8)
        alpha = np.empty(image.size[::-1], np.uint8)
        for rows, strip in _strips(image):
            cv2.mixChannels([strip], [rgb[rows], alpha[rows]], [0, 0, 1, 1, 2, 2, 3, 3])
        return rgb, (None if alpha.min() == 255 else alpha)
    if image.mode != "RGB":
        image = image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    return _rgb(image), None


def draft_size(size: tuple[int, int], fit: tuple[int, int]) -> tuple[int, int]:
    """The smallest size to decode at so the output box is still filled, whichever way EXIF turns it."""
    w, h = size
    scale = max(min(fit[0] / w, fit[1] / h), min(fit[0] / h, fit[1] / w), 0.0)
    scale = min(scale, 1.0)
    return max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale))


def decode(data: bytes, limits: Limits, *, fit: tuple[int, int] | None = None) -> Decoded:
    """Bytes to pixels with EXIF orientation applied; with `fit`, JPEG may decode at a reduced scale."""
    image = open_checked(data, limits)
    fmt = image.format or sniff(data)
    try:
        if fit and fmt == "JPEG" and image.mode in ("RGB", "L"):
            image.draft(image.mode, draft_size(image.size, fit))
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb, alpha = normalise(image)
    except PILLOW_ERRORS as exc:
        raise UndecodableImage(details=f"The {fmt} data is corrupt or truncated") from exc
    return Decoded(rgb=rgb, alpha=alpha, format=fmt)
