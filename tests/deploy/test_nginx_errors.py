"""nginx's own errors through a real nginx: JSON in the shape of the URI's API, never nginx's HTML page."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import requests

from bgremover.web import rembg_api, removebg
from nginx.render import NGINX_ERRORS, Flood
from tests.services import NginxServer, free_port

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

NATIVE_KEYS = {"error", "code", "solution", "details", "request_id"}
# One path per API prefix: nginx picks the error shape from the URI as the app does.
PATHS = {"native": "/remove-background", "removebg": "/v1.0/removebg", "rembg": "/api/remove"}
MAX_BODY = "1m"


class SilentUpstream:
    """A loopback TCP server that accepts connections and never answers: a hung app node."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def silent() -> Iterator[SilentUpstream]:
    upstream = SilentUpstream()
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def hung(tmp_path_factory, silent) -> Iterator[NginxServer]:
    """nginx in front of a node that never answers, with a 1 s read timeout: every proxied request is a 504."""
    nginx = NginxServer(
        tmp_path_factory.mktemp("hung"), [f"127.0.0.1:{silent.port}"], max_body=MAX_BODY, read_timeout="1s"
    )
    yield nginx.start()
    nginx.stop()


@pytest.fixture(scope="module")
def down(tmp_path_factory) -> Iterator[NginxServer]:
    """nginx in front of a node that is down (nothing listens on its port): every proxied request is a 502."""
    nginx = NginxServer(tmp_path_factory.mktemp("down"), [f"127.0.0.1:{free_port()}"], max_body=MAX_BODY)
    yield nginx.start()
    nginx.stop()


def send(nginx: NginxServer, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, f"{nginx.url}{path}", verify=False, timeout=30, **kw)


def nginx_json(r: requests.Response, status: int) -> dict:
    """The body of nginx's own JSON error, after the checks every one of them must pass."""
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == "application/json", r.headers.get("Content-Type")
    assert "<html" not in r.text.lower()
    assert "X-Request-ID" not in r.headers  # nginx answered, not a node
    return r.json()


def check_shapes(answers: dict[str, requests.Response], status: int, code: str) -> None:
    """The native answer is the spec's JSON; the drop-ins' are the app's own shapes of that same body."""
    native = nginx_json(answers["native"], status)
    assert set(native) == NATIVE_KEYS and native["code"] == code, native
    assert re.fullmatch(r"[0-9a-f]{32}", native["request_id"]), native["request_id"]
    assert all(native[key] for key in NATIVE_KEYS)
    for api, shape in (("removebg", removebg.error_shape), ("rembg", rembg_api.error_shape)):
        if api not in answers:
            continue
        got = answers[api].json()
        request_id = got.get("request_id", "")  # rembg's shape carries it, remove.bg's has no place for it
        expected_status, expected = shape(status, {**native, "request_id": request_id})
        assert nginx_json(answers[api], expected_status) == expected, api


def test_a_body_too_big_is_a_413_in_each_apis_shape(hung):
    big = b"\0" * (2 * 1024 * 1024)
    answers = {
        api: send(hung, "POST", path, data=big, headers={"Content-Type": "image/jpeg"}) for api, path in PATHS.items()
    }
    check_shapes(answers, 413, "payload_too_large")
    assert answers["removebg"].status_code == 400  # remove.bg's status for a file too large, as the app says it
    assert "1 MiB" in answers["native"].json()["solution"]


def test_headers_too_large_are_a_400_in_each_apis_shape(hung):
    huge = {"X-Padding": "a" * 20000}
    answers = {api: send(hung, "GET", path, headers=huge) for api, path in PATHS.items()}
    check_shapes(answers, 400, "headers_too_large")


def test_a_uri_too_long_is_a_414_in_json(hung):
    r = send(hung, "GET", "/v1.0/removebg?x=" + "a" * 10000)
    body = nginx_json(r, 414)
    # the request line could not be read whole, so nginx cannot tell the API: the native shape
    assert set(body) == NATIVE_KEYS and body["code"] == "uri_too_long"


def test_an_upstream_that_does_not_answer_is_a_504_in_each_apis_shape(hung):
    answers = {
        api: send(hung, "POST", path, files={"file": ("a.jpg", b"\xff\xd8", "image/jpeg")})
        for api, path in PATHS.items()
    }
    check_shapes(answers, 504, "gateway_timeout")
    assert answers["native"].elapsed.total_seconds() < 10


def test_an_upstream_that_is_down_is_a_502_in_each_apis_shape(down):
    answers = {
        api: send(down, "POST", path, files={"file": ("a.jpg", b"\xff\xd8", "image/jpeg")})
        for api, path in PATHS.items()
    }
    check_shapes(answers, 502, "bad_gateway")
    assert "max-age=" in answers["native"].headers["Strict-Transport-Security"]  # security headers kept
    assert "Retry-After" not in answers["native"].headers  # nginx's Retry-After is for its own 429 only


def test_nginx_429_in_each_apis_shape(tmp_path, silent):
    tight = NginxServer(
        tmp_path, [f"127.0.0.1:{silent.port}"], flood=Flood(rate="1r/m", burst=1, connections=50), read_timeout="1s"
    )
    tight.start()
    try:
        for _ in range(2):  # the minute's one request and the burst of one reach the (silent) node
            assert send(tight, "GET", "/health/live").status_code == 504
        answers = {api: send(tight, "GET", path) for api, path in PATHS.items()}
    finally:
        tight.stop()
    check_shapes(answers, 429, "rate_limited")
    assert all(r.headers["Retry-After"] == "1" for r in answers.values())


def test_static_misses_are_json_not_html_nor_css(hung):
    missing = send(hung, "GET", "/static/missing.css")
    assert nginx_json(missing, 404)["code"] == "not_found"
    posted = send(hung, "POST", "/static/style.css", data=b"x")
    assert nginx_json(posted, 405)["code"] == "method_not_allowed"
    listing = send(hung, "GET", "/static/")
    assert nginx_json(listing, 403)["code"] == "forbidden"


def test_plain_http_to_the_https_port_is_json(hung):
    r = requests.get(f"http://127.0.0.1:{hung.https_port}/v1.0/removebg", timeout=10)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert r.json()["errors"][0]["code"] == "https_required"


def test_the_http_port_answers_its_errors_in_json_too(hung):
    r = requests.get(f"http://127.0.0.1:{hung.http_port}/api/remove", headers={"X-Padding": "a" * 20000}, timeout=10)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert r.json()["code"] == "headers_too_large" and "detail" in r.json()


def test_every_status_nginx_answers_has_a_json_page(hung):
    site = (hung.dir / "site.conf").read_text()
    servers = site.count("server {")
    for err in NGINX_ERRORS:
        assert site.count(f"error_page {err.status} = /_nginx_error/{err.status};") == servers, err.status
    raw = ssl.create_default_context()
    raw.check_hostname, raw.verify_mode = False, ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", hung.https_port), timeout=5) as sock,
        raw.wrap_socket(sock, server_hostname="localhost") as tls,
    ):
        tls.sendall(b"GARBAGE\r\n\r\n")  # not HTTP at all: nginx's 400
        reply = tls.recv(65536).decode("latin-1")
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and "Content-Type: application/json" in head, head
    assert '"code":"bad_request"' in body
