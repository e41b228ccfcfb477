"""Encode pixels as PNG, JPEG or WEBP, with no metadata carried over."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MIMETYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
PNG_COMPRESS_LEVEL = 3  # zlib level: 3 is ~3x faster than Pillow's 6 at a few % more bytes (BENCHMARKS.md)
WEBP_METHOD = 4  # libwebp effort 0-6


def _to_image(pixels: np.ndarray) -> Image.Image:
    if pixels.ndim == 2:
        return Image.fromarray(pixels, "L")
    return Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")


def palette_colors(quality: int) -> int:
    """Palette size for lossy PNG: 256 colours at quality 90-99, fewer as quality drops (min 16)."""
    return max(16, min(256, round(256 * (quality / 90) ** 2)))


def encode(pixels: np.ndarray, fmt: str, quality: int) -> bytes:
    """Bytes of the image; PNG below quality 100 is palette-quantised with its alpha kept."""
    image = _to_image(pixels)
    out = io.BytesIO()
    if fmt == "PNG":
        if quality < 100 and image.mode != "L":
            image = image.quantize(colors=palette_colors(quality), method=Image.Quantize.FASTOCTREE,
                                   dither=Image.Dither.FLOYDSTEINBERG)
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "JPEG":
        if image.mode == "RGBA":
            raise ValueError("JPEG has no alpha: compose onto a background first")
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True, subsampling="4:2:0")
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=quality, method=WEBP_METHOD, exact=False)
    else:
        raise ValueError(f"unknown output format {fmt}")
    return out.getvalue()
