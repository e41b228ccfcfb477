"""One place that turns every error (ours, Flask's, the limiter's) into the spec's JSON body."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from bgremover.errors import BgRemoverError

log = logging.getLogger("bgremover.errors")

HINTS = {
    400: "Check the request against the API documentation at /openapi.json",
    404: "Check the URL; the API is described at /openapi.json",
    405: "Use the method the endpoint accepts (see /openapi.json)",
    413: "Send a smaller file",
    429: "Wait until the limit resets (see Retry-After) and try again",
}
MESSAGES = {404: "Not found", 405: "Method not allowed", 413: "File too large", 429: "Rate limit exceeded"}
CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 429: "rate_limited"}


def error_response(status: int, body: dict[str, str]) -> Response:
    """The JSON error response with the request id."""
    body = {**body, "request_id": g.get("request_id", "")}
    response = jsonify(body)
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


def register(app: Flask) -> None:
    """Install the handlers on the app."""
    app.register_error_handler(BgRemoverError, _from_ours)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
