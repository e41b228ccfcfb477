"""The OpenAPI 3 document, built from the same tables the code uses (options, presets, limits)."""

from __future__ import annotations

from typing import Any

from bgremover import __version__
from bgremover.processing.options import FALSE, HEX_COLOR, INTEGER, MODEL_NAME, OPTIONS, TRUE, OptionSpec
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.settings import Settings
from bgremover.web import openapi_compat
from bgremover.web.auth import API_KEY_HEADER
from bgremover.web.errors import STATUS_TEXT
from bgremover.web.headers import RATE_LIMIT_HEADERS, RESULT_HEADERS

Schema = dict[str, Any]  # a JSON object of the document


def _any_case(word: str) -> str:
    """An ECMA regex for `word` in any letter case (OpenAPI patterns have no case-insensitive flag)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def option_schema(spec: OptionSpec) -> Schema:
    """The JSON schema of one option, from its declaration."""
    if spec.kind == "int":
        schema: Schema = {
            "oneOf": [
                {"type": "integer", "minimum": spec.low, "maximum": spec.high},
                {"type": "string", "pattern": f"^{INTEGER.pattern}$"},
            ]
        }
    elif spec.kind == "bool":
        words = "|".join(map(_any_case, (*TRUE, *FALSE)))
        schema = {"oneOf": [{"type": "boolean"}, {"type": "string", "pattern": f"^\\s*({words})\\s*$"}]}
    elif spec.kind == "choice":
        schema = {"type": "string", "pattern": f"^\\s*({'|'.join(map(_any_case, spec.choices))})\\s*$"}
    elif spec.kind == "color":
        schema = {"type": "string", "pattern": f"^\\s*{HEX_COLOR.pattern}\\s*$"}
    else:
        schema = {"type": "string", "pattern": f"^\\s*{MODEL_NAME.pattern}\\s*$"}
    return {**schema, "description": spec.help}


OPTION_SCHEMAS = {spec.name: option_schema(spec) for spec in OPTIONS}
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
        "certainty": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "How sure the cut-out is (1: every pixel clearly subject or background); below "
            f"{UNSURE_CERTAINTY} worth a person's look",
        },
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
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
    "BearerAuth": {"type": "http", "scheme": "bearer", "description": "the same API key as a bearer token"},
}
HEADERS = {
    str(name): {"schema": {"type": "string"}, "description": name.doc}
    for name in (*RESULT_HEADERS, *RATE_LIMIT_HEADERS)
}


def _errors(*statuses: int) -> Schema:
    text = STATUS_TEXT
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(s): {"description": text[s], "content": error} for s in statuses}


def _processing(summary: str, body: Schema, ok: Schema, limit: int) -> Schema:
    return {
        "post": {
            "summary": f"{summary} (limit {limit}/hour per IP)",
            "requestBody": {"required": True, "content": body},
            "responses": {"200": ok, **_errors(400, 405, 413, 415, 422, 429, 503, 504)},
        }
    }


def security(settings: Settings) -> list[Schema] | None:
    """What a key-protected operation requires: a key (or none, under PAGE_PUBLIC); None when API keys are off."""
    if not settings.api_keys_enabled:
        return None
    return [{"ApiKeyHeader": []}, {"BearerAuth": []}] + ([{}] if settings.page_public else [])


def _keyed(path_item: Schema, settings: Settings) -> Schema:
    """With API keys on, the operation requires one (or accepts none, under PAGE_PUBLIC) and may answer 401/403."""
    required = security(settings)
    if required is None:
        return path_item
    operation = path_item["post"]
    operation["security"] = required
    operation["responses"].update(_errors(401, 403))
    return path_item


def document(settings: Settings) -> Schema:
    """The document for a server with these settings."""
    multipart = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}, **OPTION_SCHEMAS},
            }
        }
    }
    base64_body = {
        "application/json": {
            "schema": {
                "type": "object",
                "oneOf": [{"required": ["image"]}, {"required": ["image_url"]}],
                "properties": {
                    "image": {"type": "string", "description": "base64, or a data:image/...;base64, URL"},
                    "image_url": {
                        "type": "string",
                        "format": "uri",
                        "description": "an http(s) URL to fetch the image from, instead of `image` "
                        "(off unless IMAGE_URL_ENABLED=true; private, loopback and link-local addresses are refused)",
                    },
                    **OPTION_SCHEMAS,
                },
            }
        }
    }
    batch_body = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "minItems": 1,
                        "maxItems": settings.batch_max_files,
                        "description": "one part per image, all named `file`",
                    },
                    **OPTION_SCHEMAS,
                },
            },
            "encoding": {"file": {"contentType": "application/octet-stream"}},
        }
    }
    zip_ok = {
        "description": "A ZIP streamed as results complete: `<name>-no-bg.<ext>` per processed file and "
        "`manifest.json` (`files[]`: index, file, status `ok`|`error`, output, size, width, height, format, "
        "processing_time_ms, certainty, or error {error, code, solution, details})",
        "headers": {str(h): HEADERS[str(h)] for h in RATE_LIMIT_HEADERS},
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
    json_ok = {
        "description": "The result",
        "headers": HEADERS,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
    }
    image_ok = {
        "description": "The image as a download",
        "headers": HEADERS,
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
            "/remove-background": _keyed(
                _processing(
                    "Remove the background; the image as a download",
                    multipart,
                    image_ok,
                    settings.rate_limit_remove_bg_per_hour,
                ),
                settings,
            ),
            "/remove-background-preview": _keyed(
                _processing(
                    "Remove the background; result JSON", multipart, json_ok, settings.rate_limit_preview_per_hour
                ),
                settings,
            ),
            "/remove-background-base64": _keyed(
                _processing(
                    "Remove the background of a base64 image or an image URL",
                    base64_body,
                    json_ok,
                    settings.rate_limit_base64_per_hour,
                ),
                settings,
            ),
            "/remove-background-batch": _keyed(
                {
                    "post": {
                        "summary": f"Remove the backgrounds of up to {settings.batch_max_files} images; a ZIP "
                        f"(limit {settings.rate_limit_batch_per_hour} images/hour per IP: a batch of N counts N)",
                        "requestBody": {"required": True, "content": batch_body},
                        "responses": {"200": zip_ok, **_errors(400, 405, 413, 429)},
                    }
                },
                settings,
            ),
            "/read-file": _keyed(
                {
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
                settings,
            ),
            "/health": {
                "get": {
                    "summary": "Health: model, rate limits, Redis, disk, memory (checks for METRICS_ALLOWED_IPS only)",
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
            **openapi_compat.paths(settings, security(settings)),
        },
        "components": {
            "schemas": {"Error": ERROR, "Result": RESULT, **openapi_compat.SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }
