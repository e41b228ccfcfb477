"""Turning an engine Result into the spec's JSON and headers."""

from __future__ import annotations

import base64

from bgremover.processing import Result


def headers(result: Result) -> dict[str, str]:
    """The X-* headers of every processing endpoint."""
    return {
        "X-Optimization-Used": "true" if result.options.shaped else "false",
        "X-Original-Size": str(result.input_size),
        "X-Optimized-Size": str(result.size),
        "X-Processing-Time-Ms": str(round(result.total_ms)),
        "X-Image-Width": str(result.width),
        "X-Image-Height": str(result.height),
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
    }
