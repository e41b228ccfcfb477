"""The one error handler, on a bare Flask app: our typed errors, Werkzeug's HTTP errors and anything unexpected."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, g
from werkzeug.exceptions import NotFound, RequestEntityTooLarge, TooManyRequests

from bgremover.errors import ImageTooSmall, InvalidOption, ModelNotReady, UnsupportedFormat
from bgremover.web import errors

RAISES = {
    "invalid": InvalidOption("Invalid parameter 'quality': expected an integer", hint="Set it", details="Got 'x'"),
    "unsupported": UnsupportedFormat(),
    "small": ImageTooSmall(hint="Send a bigger one"),
    "not_ready": ModelNotReady(),
    "not_found": NotFound(),
    "too_large": RequestEntityTooLarge(),
    "limited": TooManyRequests("10 per 1 hour"),
    "crash": RuntimeError("/srv/secret/path leaked"),
}


@pytest.fixture(scope="module")
def client():
    app = Flask(__name__)
    errors.register(app)

    @app.before_request
    def _request_id() -> None:
        g.request_id = "req-12345678"

    @app.get("/raise/<name>")
    def raise_(name: str) -> str:
        raise RAISES[name]

    @app.post("/post-only")
    def post_only() -> str:
        return "ok"

    return app.test_client()


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("invalid", 400, "invalid_parameter"),
        ("unsupported", 415, "unsupported_format"),
        ("small", 422, "image_too_small"),
        ("not_ready", 503, "model_not_ready"),
        ("not_found", 404, "not_found"),
        ("too_large", 413, "payload_too_large"),
        ("limited", 429, "rate_limited"),
    ],
)
def test_each_error_is_the_specs_json(client, name, status, code):
    r = client.get(f"/raise/{name}")
    body = r.get_json()
    assert r.status_code == status and r.is_json
    assert body["code"] == code and body["request_id"] == "req-12345678"
    assert body["error"] and body["solution"]


def test_our_errors_carry_their_message_hint_and_details(client):
    body = client.get("/raise/invalid").get_json()
    assert body == {
        "error": "Invalid parameter 'quality': expected an integer",
        "code": "invalid_parameter",
        "solution": "Set it",
        "details": "Got 'x'",
        "request_id": "req-12345678",
    }


def test_rate_limit_details_name_the_limit(client):
    assert client.get("/raise/limited").get_json()["details"] == "Limit: 10 per 1 hour"


def test_405_says_which_methods_are_allowed(client):
    r = client.get("/post-only")
    assert r.status_code == 405 and r.get_json()["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].split(", ")) >= {"POST", "OPTIONS"}


def test_unexpected_errors_are_a_bare_500_and_logged(client, caplog):
    with caplog.at_level(logging.ERROR, logger="bgremover.errors"):
        r = client.get("/raise/crash")
    assert r.status_code == 500
    assert r.get_json() == {
        "error": "Internal error",
        "code": "internal_error",
        "solution": "Try again later; if it persists, report the request id",
        "request_id": "req-12345678",
    }
    assert "secret" not in r.get_data(as_text=True)
    assert any(record.exc_info and "secret" in str(record.exc_info[1]) for record in caplog.records)
