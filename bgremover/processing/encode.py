"""Encode pixels as PNG, JPEG or WEBP, with no metadata carried over."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np
from PIL import Image

from bgremover.processing import decode

# The output formats; ZIP is remove.bg's `format=zip`: the colours as JPEG and the alpha matte as PNG, so named.
MIMETYPES = {**{fmt: decode.INPUT_MIMETYPES[fmt] for fmt in ("PNG", "JPEG", "WEBP")}, "ZIP": "application/zip"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "ZIP": "zip"}
ZIP_COLOR, ZIP_ALPHA = "color.jpg", "alpha.png"
# Lossless PNG through OpenCV's libpng with zlib's RLE strategy: as small as Pillow's level 6 on
# cut-outs at about a fifth of the time (BENCHMARKS.md). One fixed Paeth filter instead of libpng's
# per-row choice: 30% faster again for +0.1–0.8% bytes on photos and masks. Palette PNGs use Pillow.
PNG_PARAMS = [
    cv2.IMWRITE_PNG_COMPRESSION, 1,
    cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
    cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_PAETH,
]  # fmt: skip
# JPEG and WEBP also go through OpenCV: its libjpeg-turbo and libwebp give the same bytes as Pillow did with
# these settings (libwebp's defaults: method 4, `exact` off), without Pillow's full-size copy of the pixels
# (and, for WEBP, its animation encoder's frame buffers): BENCHMARKS.md, "Memory".
JPEG_PARAMS = [
    cv2.IMWRITE_JPEG_OPTIMIZE, 1,
    cv2.IMWRITE_JPEG_PROGRESSIVE, 1,
    cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
]  # fmt: skip
TO_BGR = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}  # each its own inverse
SWAP_ROWS = 64  # channels are reordered in place in bands of this many rows


def palette_colors(quality: int) -> int:
    """Palette size for lossy PNG: 256 colours at quality 90-99, fewer as quality drops (min 16)."""
    return max(16, min(256, round(256 * (quality / 90) ** 2)))


def _swap_in_place(pixels: np.ndarray, code: int) -> None:
    """Convert the channel order in place, band by band (cvtColor with dst=src clones the whole image)."""
    for top in range(0, pixels.shape[0], SWAP_ROWS):
        band = pixels[top : top + SWAP_ROWS]
        band[...] = cv2.cvtColor(band, code)


@contextmanager
def _opencv_order(pixels: np.ndarray) -> Iterator[np.ndarray]:
    """The pixels in OpenCV's channel order (BGR/BGRA): swapped in place and back, or copied if they are read-only."""
    if pixels.ndim == 2:
        yield pixels
        return
    code = TO_BGR[pixels.shape[2]]
    if not (pixels.flags.writeable and pixels.flags.c_contiguous):
        yield cv2.cvtColor(pixels, code)
        return
    _swap_in_place(pixels, code)  # no second full-size array; both swaps together cost about one copy
    try:
        yield pixels
    finally:
        _swap_in_place(pixels, code)


def _opencv(pixels: np.ndarray, fmt: str, params: list[int]) -> bytes:
    with _opencv_order(pixels) as ordered:
        ok, data = cv2.imencode("." + EXTENSIONS[fmt], ordered, params)
    if not ok:
        raise ValueError(f"{fmt} encoding failed")
    return data.tobytes()


def color_and_alpha(rgba: np.ndarray, quality: int) -> bytes:
    """A ZIP of the colours (JPEG at `quality`) and the alpha (lossless grayscale PNG) of RGBA pixels."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # both members are compressed already
        archive.writestr(ZIP_COLOR, encode(np.ascontiguousarray(rgba[:, :, :3]), "JPEG", quality))
        archive.writestr(ZIP_ALPHA, _opencv(np.ascontiguousarray(rgba[:, :, 3]), "PNG", PNG_PARAMS))
    return out.getvalue()


def encode(pixels: np.ndarray, fmt: str, quality: int) -> bytes:
    """Bytes of the image; PNG below quality 100 is palette-quantised with its alpha kept; ZIP needs RGBA.

    The pixels are left as they were, but are reordered in place while OpenCV encodes them: do not read
    them from another thread meanwhile.
    """
    if fmt == "ZIP":
        return color_and_alpha(pixels, quality)
    if fmt == "PNG" and (quality >= 100 or pixels.ndim == 2):
        return _opencv(pixels, fmt, PNG_PARAMS)
    if fmt == "JPEG":
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            raise ValueError("JPEG has no alpha: compose onto a background first")
        return _opencv(pixels, fmt, [cv2.IMWRITE_JPEG_QUALITY, quality, *JPEG_PARAMS])
    if fmt == "WEBP":
        return _opencv(pixels, fmt, [cv2.IMWRITE_WEBP_QUALITY, quality])
    if fmt != "PNG":
        raise ValueError(f"unknown output format {fmt}")
    image = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
    image = image.quantize(
        colors=palette_colors(quality), method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG
    )
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=6)
    return out.getvalue()
