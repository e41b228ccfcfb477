"""Real photos for the benchmarks: taken from the evaluation sets in turn, scaled, as JPEG bytes."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

DATA = Path(os.environ.get("BGREMOVER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SETS = ("dis5k-mini", "duts-te-150", "alphamatting-train-lowres")


def interleaved(count: int, sets: tuple[str, ...] = SETS) -> list[Path]:
    """The first `count` images of the sets taken in turn (one of each, then the second of each, …)."""
    lists = [sorted((DATA / name / "images").iterdir()) for name in sets]
    return [files[i] for i in range(max(map(len, lists))) for files in lists if i < len(files)][:count]


def scaled_jpeg(image: Image.Image, side: int) -> bytes:
    """The image with its long side scaled to `side` (Lanczos), as JPEG bytes at quality 90."""
    scale = side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    buf = io.BytesIO()
    image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(buf, "JPEG", quality=90)
    return buf.getvalue()
