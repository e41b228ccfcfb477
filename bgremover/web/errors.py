"""One place that turns every error (ours, Flask's, the limiter's) into the spec's JSON body.

A compatible API (remove.bg's, rembg's) registers a shape for its URL prefix: the same status and body,
re-dressed as its clients expect, for every error under that prefix, including 404, 405, 413 and 429.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from bgremover.errors import BgRemoverError

log = logging.getLogger("bgremover.errors")
# Our status and body (error, code, solution, details, request_id) → the status and JSON body a client expects.
Shape = Callable[[int, dict[str, str]], tuple[int, object]]
# URL prefix → shape; filled by register(). The shapes are code, the same for every app the factory builds.
SHAPES: dict[str, Shape] = {}

HINTS = {
    400: "Check the request against the API documentation at /openapi.json",
    404: "Check the URL; the API is described at /openapi.json",
    405: "Use the method the endpoint accepts (see /openapi.json)",
    413: "Send a smaller file",
    429: "Wait until the limit resets (see Retry-After) and try again",
}
MESSAGES = {404: "Not found", 405: "Method not allowed", 413: "File too large", 429: "Rate limit exceeded"}
# What each error status means, as the OpenAPI documents of every API say it.
STATUS_TEXT = {
    400: "Bad or missing parameter",
    401: "API key missing (when API keys are on)",
    403: "API key invalid or revoked",
    404: "Not found",
    405: "Method not allowed",
    413: "Body too large",
    415: "Not an allowed image format",
    422: "Undecodable image or dimensions out of limits",
    429: "Rate limited (see Retry-After)",
    503: "Model not ready",
    504: "Processing ran past PROCESSING_TIMEOUT_S",
}
CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 429: "rate_limited"}


def _shape_for(path: str) -> Shape | None:
    return next((shape for prefix, shape in SHAPES.items() if path == prefix or path.startswith(prefix + "/")), None)


def error_response(status: int, body: dict[str, str]) -> Response:
    """The JSON error response with the request id, in the shape of the API the path belongs to."""
    body = {**body, "request_id": g.get("request_id", "")}
    shape = _shape_for(request.path)
    status, shaped = shape(status, body) if shape else (status, body)
    response = jsonify(shaped)
    response.status_code = status
    return response


def _from_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    body = {
        "error": MESSAGES.get(status, exc.name),
        "code": CODES.get(status, exc.name.lower().replace(" ", "_")),
        "solution": HINTS.get(status, "Try again later"),
    }
    if exc.description:
        body["details"] = f"Limit: {exc.description}" if status == 429 else exc.description
    response = error_response(status, body)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _from_ours(exc: BgRemoverError) -> Response:
    return error_response(exc.status, exc.to_dict())


def _from_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", extra={"request_id": g.get("request_id")})
    return error_response(
        500,
        {
            "error": "Internal error",
            "code": "internal_error",
            "solution": "Try again later; if it persists, report the request id",
        },
    )


def register(app: Flask, shapes: Iterable[tuple[str, Shape]] = ()) -> None:
    """Install the handlers on the app, with the error shapes of compatible APIs by URL prefix."""
    SHAPES.update(shapes)
    app.register_error_handler(BgRemoverError, _from_ours)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
