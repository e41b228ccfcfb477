"""The OpenAPI 3 document, built from the same tables the code uses (options, presets, limits)."""

from __future__ import annotations

from bgremover import __version__
from bgremover.processing.options import REFINE_LEVELS
from bgremover.processing.presets import PRESETS
from bgremover.settings import Settings

BOOL = {
    "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"]}]
}


def _int(low: int, high: int) -> dict:
    return {
        "oneOf": [
            {"type": "integer", "minimum": low, "maximum": high},
            {"type": "string", "pattern": r"^\s*[+-]?\d{1,9}\s*$"},
        ]
    }


OPTIONS = {
    "format": {
        "type": "string",
        "pattern": "^([Pp][Nn][Gg]|[Jj][Pp][Ee]?[Gg]|[Ww][Ee][Bb][Pp])$",
        "description": "PNG (default), JPEG/JPG, WEBP",
    },
    "quality": {**_int(10, 100), "description": "JPEG/WEBP quality; PNG below 100 means a palette"},
    "max_width": {**_int(100, 4000), "description": "Downscale to at most this width"},
    "max_height": {**_int(100, 4000), "description": "Downscale to at most this height"},
    "preset": {"type": "string", "enum": list(PRESETS), "description": "Fills format, quality and size"},
    "bg_color": {
        "type": "string",
        "pattern": "^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
        "description": "Background colour instead of transparency",
    },
    "trim": {**BOOL, "description": "Crop to the subject"},
    "trim_padding": {**_int(0, 500), "description": "Margin kept when trimming (default 10)"},
    "refine": {"type": "string", "enum": list(REFINE_LEVELS), "description": "Edge refinement (default standard)"},
    "mask_only": {**BOOL, "description": "Return the alpha mask as grayscale"},
    "model": {"type": "string", "description": "An installed model name (default MODEL_NAME)"},
}
ERROR = {
    "type": "object",
    "required": ["error", "code", "solution", "request_id"],
    "properties": {k: {"type": "string"} for k in ("error", "code", "solution", "details", "request_id")},
}
RESULT = {
    "type": "object",
    "required": ["success", "image", "mimetype", "size", "width", "height", "optimization", "processing_time_ms"],
    "properties": {
        "success": {"type": "boolean"},
        "image": {"type": "string", "format": "byte"},
        "mimetype": {"type": "string"},
        "size": {"type": "integer"},
        "width": {"type": "integer"},
        "height": {"type": "integer"},
        "processing_time_ms": {"type": "integer"},
        "optimization": {
            "type": "object",
            "properties": {
                "format": {"type": "string"},
                "quality": {"type": "integer"},
                "preset": {"type": "string", "nullable": True},
                "dimensions": {"type": "string"},
                "original_size": {"type": "integer"},
                "optimized_size": {"type": "integer"},
                "compression_ratio": {"type": "string"},
            },
        },
    },
}
RESULT_HEADERS = {
    name: {"schema": {"type": "string"}, "description": text}
    for name, text in (
        ("X-Optimization-Used", "true when an option beyond the defaults shaped the output"),
        ("X-Original-Size", "input bytes"),
        ("X-Optimized-Size", "output image bytes"),
        ("X-Processing-Time-Ms", "engine time"),
        ("X-Image-Width", "output width"),
        ("X-Image-Height", "output height"),
        ("X-RateLimit-Limit", "requests allowed per hour"),
        ("X-RateLimit-Remaining", "requests left"),
        ("X-RateLimit-Reset", "when the window resets (epoch s)"),
    )
}


def _errors(*statuses: int) -> dict:
    text = {
        400: "Bad or missing parameter",
        404: "Not found",
        405: "Method not allowed",
        413: "Body too large",
        415: "Not an allowed image format",
        422: "Undecodable image or dimensions out of limits",
        429: "Rate limited (see Retry-After)",
        503: "Model not ready",
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(s): {"description": text[s], "content": error} for s in statuses}


def _processing(summary: str, body: dict, ok: dict, limit: int) -> dict:
    return {
        "post": {
            "summary": f"{summary} (limit {limit}/hour per IP)",
            "requestBody": {"required": True, "content": body},
            "responses": {"200": ok, **_errors(400, 405, 413, 415, 422, 429, 503)},
        }
    }


def document(settings: Settings) -> dict:
    """The document for a server with these settings."""
    multipart = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}, **OPTIONS},
            }
        }
    }
    base64_body = {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {"type": "string", "description": "base64, or a data:image/...;base64, URL"},
                    **OPTIONS,
                },
            }
        }
    }
    json_ok = {
        "description": "The result",
        "headers": RESULT_HEADERS,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
    }
    image_ok = {
        "description": "The image as a download",
        "headers": RESULT_HEADERS,
        "content": {
            mt: {"schema": {"type": "string", "format": "binary"}} for mt in ("image/png", "image/jpeg", "image/webp")
        },
    }
    simple = {"application/json": {"schema": {"type": "object"}}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "bgremover",
            "version": __version__,
            "description": "Background removal: upload a photo, get the subject cut out.",
        },
        "paths": {
            "/": {
                "get": {
                    "summary": "The upload page",
                    "responses": {
                        "200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
                    },
                }
            },
            "/remove-background": _processing(
                "Remove the background; the image as a download",
                multipart,
                image_ok,
                settings.rate_limit_remove_bg_per_hour,
            ),
            "/remove-background-preview": _processing(
                "Remove the background; result JSON", multipart, json_ok, settings.rate_limit_preview_per_hour
            ),
            "/remove-background-base64": _processing(
                "Remove the background of a base64 image", base64_body, json_ok, settings.rate_limit_base64_per_hour
            ),
            "/read-file": {
                "post": {
                    "summary": f"An image file under READ_FILE_DIR, unprocessed "
                    f"(limit {settings.rate_limit_read_file_per_hour}/hour per IP)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["path"],
                                    "properties": {"path": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The file",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "success": {"type": "boolean"},
                                            "image": {"type": "string", "format": "byte"},
                                            "mimetype": {"type": "string"},
                                            "size": {"type": "integer"},
                                            "filename": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(400, 404, 405, 413, 429),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Health of model, Redis, disk, memory",
                    "responses": {
                        "200": {"description": "healthy or degraded", "content": simple},
                        "503": {"description": "unhealthy", "content": simple},
                    },
                }
            },
            "/health/live": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive", "content": simple}}}
            },
            "/health/ready": {
                "get": {
                    "summary": "Readiness (model loaded and warmed)",
                    "responses": {
                        "200": {"description": "ready", "content": simple},
                        "503": {"description": "not ready", "content": simple},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (METRICS_ALLOWED_IPS only)",
                    "responses": {
                        "200": {
                            "description": "text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "403": {
                            "description": "not allowed",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    },
                }
            },
            "/api/presets": {
                "get": {
                    "summary": "The output presets",
                    "responses": {"200": {"description": "name → preset", "content": simple}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3", "content": simple}},
                }
            },
        },
        "components": {"schemas": {"Error": ERROR, "Result": RESULT}},
    }
