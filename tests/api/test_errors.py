"""Every error class of the spec: status, JSON body, and never a traceback, path or version."""

from __future__ import annotations

import base64
import io
import re

import pytest

from tests.processing.test_decode import png_header

LEAKS = re.compile(r"Traceback|File \"|/work/|/root/|site-packages|\.py\b|Werkzeug/|Python/\d", re.I)


def assert_error(r, status: int, code: str | None = None, mention: str | None = None) -> dict:
    assert r.status_code == status, r.data[:500]
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert {"error", "code", "solution", "request_id"} <= set(body)
    assert body["request_id"] == r.headers["X-Request-ID"]
    if code:
        assert body["code"] == code
    if mention:
        assert mention in body["error"]
    assert not LEAKS.search(r.get_data(as_text=True)), r.get_data(as_text=True)
    return body


def upload(data: bytes, **fields):
    return {"file": (io.BytesIO(data), "x.jpg"), **fields}


def test_missing_file_names_it(client):
    assert_error(client.post("/remove-background", data={"format": "png"}), 400, "invalid_parameter", "'file'")
    assert_error(client.post("/remove-background-preview"), 400, mention="'file'")


def test_empty_file(client):
    assert_error(client.post("/remove-background", data=upload(b"")), 400, mention="'file'")


@pytest.mark.parametrize(
    "field,value",
    [
        ("format", "gif"),
        ("quality", "150"),
        ("max_width", "10"),
        ("bg_color", "chartreuse"),
        ("trim", "perhaps"),
        ("refine", "ultra"),
        ("preset", "poster"),
        ("trim_padding", "x"),
        ("model", "nope"),
    ],
)
def test_bad_option_is_400_naming_it(client, photo_bytes, field, value):
    r = client.post("/remove-background-preview", data=upload(photo_bytes, **{field: value}))
    assert_error(r, 400, mention=f"'{field}'")


def test_not_an_image_is_415(client):
    assert_error(client.post("/remove-background", data=upload(b"GIF? no, a text file")), 415, "unsupported_format")


def test_truncated_image_is_422(client, photo_bytes):
    assert_error(client.post("/remove-background", data=upload(photo_bytes[:3000])), 422, "invalid_image")


def test_huge_dimensions_are_422_from_the_header(client):
    body = assert_error(
        client.post("/remove-background", data=upload(png_header(100_000, 100_000))), 422, "image_too_large"
    )
    assert body["details"] == "Got 100000x100000"


def test_too_small_is_422(client):
    assert_error(client.post("/remove-background", data=upload(png_header(20, 20))), 422, "image_too_small")


def test_body_over_the_cap_is_413_from_the_declared_length(make_app):
    client = make_app(max_content_length=100_000).test_client()
    r = client.post("/remove-background", data=b"x" * 100_001, content_type="multipart/form-data; boundary=zzz")
    assert_error(r, 413, "payload_too_large")


def test_base64_body_over_the_cap_is_413(make_app):
    client = make_app(max_content_length=100_000).test_client()
    assert_error(client.post("/remove-background-base64", json={"image": "A" * 100_000}), 413)


def test_base64_decoded_size_is_checked_before_decoding(monkeypatch):
    from bgremover.errors import PayloadTooLarge
    from bgremover.web import inputs

    monkeypatch.setattr(inputs.base64, "b64decode", lambda *a, **k: pytest.fail("decoded anyway"))
    with pytest.raises(PayloadTooLarge):
        inputs.base64_image({"image": "A" * 1336}, cap=1000)  # 1336 × 3/4 = 1002 bytes > 1000


@pytest.mark.parametrize(
    "body,mention",
    [
        ({}, "'image'"),
        ({"image": ""}, "'image'"),
        ({"image": 12}, "'image'"),
        ({"image": "@@@notbase64"}, "'image'"),
        ({"image": "data:image/png;base64,???"}, "'image'"),
    ],
)
def test_base64_bad_bodies(client, body, mention):
    assert_error(client.post("/remove-background-base64", json=body), 400, mention=mention)


def test_base64_wrong_content_type_and_broken_json(client):
    assert_error(client.post("/remove-background-base64", data="image=abc"), 400, mention="JSON")
    assert_error(client.post("/remove-background-base64", data="{not json", content_type="application/json"), 400)
    assert_error(client.post("/remove-background-base64", json=["a", "list"]), 400)


def test_base64_valid_but_not_an_image(client):
    r = client.post("/remove-background-base64", json={"image": base64.b64encode(b"plain text here").decode()})
    assert_error(r, 415)


def test_404_and_405_are_json(client):
    assert_error(client.get("/no/such/page"), 404, "not_found")
    r = client.get("/remove-background")
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["Allow"]


def test_unloaded_model_is_503(client, photo_bytes):
    assert_error(
        client.post("/remove-background-preview", data=upload(photo_bytes, model="silueta")), 503, "model_not_ready"
    )


def test_unexpected_exception_is_a_json_500_without_details(make_app, photo_bytes, monkeypatch):
    app = make_app()
    monkeypatch.setattr(
        app.extensions["bgremover"].engine,
        "process",
        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("/secret/path in message")),
    )
    r = app.test_client().post("/remove-background", data=upload(photo_bytes))
    body = assert_error(r, 500, "internal_error")
    assert "secret" not in r.get_data(as_text=True) and "details" not in body


def test_client_request_id_is_echoed_only_when_safe(client):
    r = client.get("/health/live", headers={"X-Request-ID": "abc-12345678"})
    assert r.headers["X-Request-ID"] == "abc-12345678"
    r = client.get("/health/live", headers={"X-Request-ID": "<script>"})
    assert r.headers["X-Request-ID"] != "<script>" and len(r.headers["X-Request-ID"]) == 32
