"""`image_url` in /remove-background-base64: off by default, then fetched from an allow-listed loopback image_server."""

from __future__ import annotations

import base64

from tests.api.test_errors import assert_error
from tests.web.loopback import ALLOWED


def test_off_by_default_says_how_to_enable(client, image_server):
    before = len(image_server.seen)
    r = client.post("/remove-background-base64", json={"image_url": f"http://{ALLOWED}:{image_server.port}/photo.jpg"})
    body = assert_error(r, 400, "image_url_disabled")
    assert "IMAGE_URL_ENABLED" in body["solution"]
    assert len(image_server.seen) == before  # nothing was fetched


def test_an_allowed_url_is_processed(url_client, image_server):
    r = url_client.post(
        "/remove-background-base64",
        json={"image_url": f"http://{ALLOWED}:{image_server.port}/photo.jpg", "format": "webp", "max_width": 400},
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["mimetype"] == "image/webp" and body["width"] == 400
    assert base64.b64decode(body["image"])[8:12] == b"WEBP"


def test_refusals_are_typed_json_that_never_name_the_address(url_client, trap):
    r = url_client.post("/remove-background-base64", json={"image_url": f"http://localhost:{trap.port}/x.jpg"})
    body = assert_error(r, 400, "image_url_address_refused")
    assert "127.0.0.1" not in r.get_data(as_text=True) and "::1" not in r.get_data(as_text=True)
    assert_error(url_client.post("/remove-background-base64", json={"image_url": "file:///etc/passwd"}), 400)
    assert trap.connections == [] and body["request_id"]


def test_image_and_image_url_together_or_a_bad_option_fetch_nothing(url_client, image_server):
    before = len(image_server.seen)
    u = f"http://{ALLOWED}:{image_server.port}/photo.jpg"
    assert_error(url_client.post("/remove-background-base64", json={"image": "aGVsbG8=", "image_url": u}), 400)
    assert_error(url_client.post("/remove-background-base64", json={"image_url": u, "format": "gif"}), 400)
    assert len(image_server.seen) == before


def test_a_web_page_is_415(url_client, image_server):
    r = url_client.post(
        "/remove-background-base64", json={"image_url": f"http://{ALLOWED}:{image_server.port}/page.html"}
    )
    assert_error(r, 415, "unsupported_format")
