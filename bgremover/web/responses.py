"""Turning an engine Result into the spec's JSON and headers."""

from __future__ import annotations

import base64

from bgremover.processing import Result
from bgremover.web.headers import Header


def headers(result: Result) -> dict[str, str]:
    """The X-* headers of every processing endpoint."""
    return {
        Header.OPTIMIZATION_USED: "true" if result.options.shaped else "false",
        Header.ORIGINAL_SIZE: str(result.input_size),
        Header.OPTIMIZED_SIZE: str(result.size),
        Header.PROCESSING_TIME: str(round(result.total_ms)),
        Header.IMAGE_WIDTH: str(result.width),
        Header.IMAGE_HEIGHT: str(result.height),
        Header.CERTAINTY: f"{result.certainty:.4f}",
    }


def result_json(result: Result) -> dict[str, object]:
    """The result JSON of the preview and base64 endpoints."""
    options = result.options
    return {
        "success": True,
        "image": base64.b64encode(result.data).decode("ascii"),
        "mimetype": result.mimetype,
        "size": result.size,
        "width": result.width,
        "height": result.height,
        "optimization": {
            "format": result.format,
            "quality": options.effective_quality,
            "preset": options.preset,
            "dimensions": f"{result.width}x{result.height}",
            "original_size": result.input_size,
            "optimized_size": result.size,
            "compression_ratio": result.compression_ratio,
        },
        "processing_time_ms": round(result.total_ms),
        "certainty": result.certainty,
    }
