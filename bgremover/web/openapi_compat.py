"""The OpenAPI paths of the compatible APIs (remove.bg v1.0, rembg's server), built from their field tables."""

from __future__ import annotations

from typing import Any

from bgremover.compat import rembg, removebg
from bgremover.compat.fields import Field
from bgremover.processing.encode import MIMETYPES
from bgremover.processing.options import FALSE, INTEGER, TRUE
from bgremover.settings import Settings
from bgremover.web.errors import STATUS_TEXT
from bgremover.web.headers import RATE_LIMIT_HEADERS, REMOVEBG_HEADERS

BINARY = {"type": "string", "format": "binary"}
REMOVEBG_ERROR = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["title", "code"],
                "properties": {k: {"type": "string"} for k in ("title", "code", "detail")},
            },
        }
    },
}
REMBG_ERROR = {
    "type": "object",
    "required": ["detail"],
    "properties": {k: {"type": "string"} for k in ("detail", "code", "request_id")},
}
ACCOUNT = {
    "type": "object",
    "properties": {
        "data": {
            "type": "object",
            "properties": {
                "attributes": {
                    "type": "object",
                    "properties": {
                        "credits": {
                            "type": "object",
                            "properties": {
                                k: {"type": "integer"} for k in ("subscription", "payg", "enterprise", "total")
                            },
                        },
                        "api": {
                            "type": "object",
                            "properties": {"free_calls": {"type": "integer"}, "sizes": {"type": "string"}},
                        },
                    },
                }
            },
        }
    },
}
FOREGROUND = ("top", "left", "width", "height")
REMOVEBG_JSON = {
    "type": "object",
    "properties": {
        "data": {
            "type": "object",
            "properties": {
                "result_b64": {"type": "string", "format": "byte"},
                **{f"foreground_{k}": {"type": "integer"} for k in FOREGROUND},
            },
        }
    },
}


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def field_schema(field: Field) -> dict[str, Any]:
    """The JSON schema of one field of a compatible API."""
    if field.kind == "file":
        schema: dict[str, Any] = dict(BINARY)
    elif field.kind == "boolean":
        words = "|".join(map(_any_case, (*TRUE, *FALSE)))
        schema = {"oneOf": [{"type": "boolean"}, {"type": "string", "pattern": f"^\\s*({words})\\s*$"}]}
    elif field.kind == "integer":
        number = {"type": "integer", "minimum": field.low, "maximum": field.high}
        schema = {"oneOf": [number, {"type": "string", "pattern": f"^{INTEGER.pattern}$"}]}
    elif field.values:
        schema = {"type": "string", "pattern": f"^\\s*({'|'.join(map(_any_case, field.values))})\\s*$"}
    else:
        schema = {"type": "string"}
    note = " (accepted and ignored)" if field.ignored else ""
    default = f" [default: {field.default}]" if field.default is not None else ""
    return {**schema, "description": f"{field.doc}{note}{default}"}


def _errors(schema: str, descriptions: dict[int, str]) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {str(status): {"description": text, "content": content} for status, text in descriptions.items()}


def _headers(names: tuple[Any, ...]) -> dict[str, Any]:
    return {str(name): {"schema": {"type": "string"}, "description": name.doc} for name in names}


def paths(settings: Settings, security: list[dict[str, Any]] | None) -> dict[str, Any]:
    """/v1.0/removebg, /v1.0/account and /api/remove (POST and GET); `security`: what keyed operations require."""
    form_fields = {f.name: field_schema(f) for f in removebg.FIELDS}
    text_fields = {name: schema for name, schema in form_fields.items() if schema.get("format") != "binary"}
    removebg_body = {
        "multipart/form-data": {"schema": {"type": "object", "properties": form_fields}},
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": text_fields}},
        "application/json": {"schema": {"type": "object", "properties": text_fields}},
    }
    images = {mt: {"schema": BINARY} for mt in MIMETYPES.values()}
    removebg_errors = _errors(
        "RemoveBgError",
        {
            400: "Invalid parameters or input file unprocessable (too large, not an image, no subject found)",
            403: "API key missing, invalid or revoked (when API keys are on)",
            405: "Method not allowed",
            429: "Rate limited (see Retry-After)",
            503: "Model not ready",
            504: "Processing ran past PROCESSING_TIMEOUT_S",
        },
    )
    rembg_fields = [f for f in rembg.FIELDS if f.name not in ("file", "url")]
    rembg_errors = _errors(
        "RembgError",
        {
            status: STATUS_TEXT[status]
            for status in (400, 401, 403, 405, 413, 415, 422, 429, 503, 504)
            if security is not None or status not in (401, 403)
        },
    )
    png = {"description": "The cut-out (or the mask) as PNG", "content": {"image/png": {"schema": BINARY}}}
    query = [{"name": f.name, "in": "query", "required": False, "schema": field_schema(f)} for f in rembg_fields]
    url = {"name": "url", "in": "query", "required": True, "schema": field_schema(rembg.SPECS["url"])}
    operations: dict[str, dict[str, Any]] = {
        "/v1.0/removebg": {
            "post": {
                "summary": f"remove.bg v1.0: remove the background (limit {settings.rate_limit_removebg_per_hour}"
                "/hour per caller)",
                "requestBody": {"required": True, "content": removebg_body},
                "responses": {
                    "200": {
                        "description": "The result as an image, or as JSON with Accept: application/json",
                        "headers": _headers((*REMOVEBG_HEADERS, *RATE_LIMIT_HEADERS)),
                        "content": {**images, "application/json": {"schema": REMOVEBG_JSON}},
                    },
                    **removebg_errors,
                },
            }
        },
        "/v1.0/account": {
            "get": {
                "summary": "remove.bg v1.0: credits, here what is left of the caller's hourly /v1.0/removebg limit",
                "responses": {
                    "200": {"description": "Account", "content": {"application/json": {"schema": ACCOUNT}}},
                    **{k: v for k, v in removebg_errors.items() if k in ("403", "405")},
                },
            }
        },
        "/api/remove": {
            "post": {
                "summary": f"rembg server API: remove the background of an upload (limit "
                f"{settings.rate_limit_rembg_per_hour}/hour per caller, GET and POST together)",
                "parameters": [p for p in query if p["name"] in ("bgc", "extras")],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["file"],
                                "properties": {f.name: field_schema(f) for f in (rembg.SPECS["file"], *rembg_fields)},
                            }
                        }
                    },
                },
                "responses": {"200": png, **rembg_errors},
            },
            "get": {
                "summary": "rembg server API: remove the background of the image at ?url= (IMAGE_URL_ENABLED)",
                "parameters": [url, *query],
                "responses": {"200": png, **rembg_errors},
            },
        },
    }

    if security is not None:
        for item in operations.values():
            for operation in item.values():
                operation["security"] = security
    return operations


SCHEMAS = {"RemoveBgError": REMOVEBG_ERROR, "RembgError": REMBG_ERROR}
