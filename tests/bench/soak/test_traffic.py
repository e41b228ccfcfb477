"""One soak request as the client sees it (`send`), against a real loopback server that answers in each way."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from bench.soak.traffic import CASES, Case, Inputs, send
from tests.services import free_port

ANSWERS = {
    "/json-error": (400, "application/json", json.dumps({"code": "invalid_option", "request_id": "r" * 32})),
    "/removebg-error": (400, "application/json", json.dumps({"errors": [{"title": "x", "code": "bad_size"}]})),
    "/text-error": (415, "text/plain", "not json"),
    "/ok": (200, "image/png", "png bytes"),
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/cut-off":  # promises more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.send_header("X-Request-ID", "c" * 32)
            self.end_headers()
            self.wfile.write(b"partial")
            self.wfile.flush()
            self.close_connection = True
            return
        status, kind, body = ANSWERS[self.path]
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", "h" * 32)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


INPUTS = Inputs(photos=[b"jpeg"], png_photo=b"png", truncated=b"jp")


def case(path: str, expect: int) -> Case:
    return Case(path, path, 1, frozenset({expect}), lambda i, r: {"data": b"x"})


def go(base: str, c: Case) -> object:
    t0 = time.monotonic()
    return send(requests.Session(), base, c, INPUTS, random.Random(0), lambda: time.monotonic() - t0)


def test_a_json_error_as_its_case_expects(server):
    o = go(server, case("/json-error", 400))
    assert (o.status, o.json_error, o.request_id, o.code, o.expected) == (400, True, "r" * 32, "invalid_option", True)
    assert 0 <= o.started <= o.ended and o.failure == ""


def test_removebgs_error_shape_gives_its_code_and_the_header_id(server):
    o = go(server, case("/removebg-error", 400))
    assert (o.code, o.request_id, o.expected) == ("bad_size", "h" * 32, True)


def test_an_error_that_is_not_json_is_unexpected_even_with_the_right_status(server):
    o = go(server, case("/text-error", 415))
    assert (o.status, o.json_error, o.expected) == (415, False, False)


def test_a_status_outside_the_case_is_unexpected(server):
    o = go(server, case("/ok", 422))
    assert (o.status, o.request_id, o.expected) == (200, "h" * 32, False)
    assert go(server, case("/ok", 200)).expected


def test_a_body_cut_off_keeps_the_status_and_says_so(server):
    o = go(server, case("/cut-off", 200))
    assert (o.status, o.request_id, o.expected) == (200, "c" * 32, False)
    assert o.failure.startswith("cut off: ")


def test_no_answer_is_status_0_with_the_exception():
    o = go(f"http://127.0.0.1:{free_port()}", case("/ok", 200))
    assert (o.status, o.failure, o.expected) == (0, "ConnectionError", False)


def test_every_case_builds_a_request_from_the_inputs():
    rng = random.Random(3)
    for c in CASES:
        built = c.build(INPUTS, rng)
        assert set(built) <= {"files", "data", "json", "headers"}, c.name
        assert c.expect and c.weight > 0 and c.method in ("GET", "POST")
