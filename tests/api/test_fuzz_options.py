"""Bounded fuzzing of the options parser through the real form and JSON endpoints: a result or a typed JSON error."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from bgremover.processing.options import OPTION_NAMES
from tests.api.test_errors import assert_error
from tests.conftest import DATA, encode_image

BOUND_S = 10.0  # per request: a 120x90 image, even with refine=high, takes well under a second
NEAR_VALID = [
    "png", "JPG", " webp ", "gif", "10", "100", "101", "4000", "4001", "-1", "+5", " 7 ", "1e3", "0x10", "١٢٣",
    "#fff", "fff", "#12345678", "#1234567", "true", "YES", "off", "maybe", "high", "NONE", "web", "print",
    "u2netp", "u2net", "silueta", "isnet-general-use", "../u2netp", "", " ", "\x00", "\u202e", "𝟘",
]  # fmt: skip
FIELDS = st.sampled_from([*OPTION_NAMES, "image", "file", "unknown", "__proto__"])
TEXT = st.sampled_from(NEAR_VALID) | st.text(max_size=30)
JSON_SCALAR = (
    TEXT
    | st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([4000.0, 100.5, 1e308, -0.0])
)
JSON_VALUE = st.recursive(
    JSON_SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6
)
FUZZ = settings(
    max_examples=25,
    deadline=None,  # the bound is asserted per request; a wall-clock deadline would flake on a loaded box
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def small_photo() -> bytes:
    photo = sorted((DATA / "duts-te-150" / "images").iterdir())[0]
    return encode_image(Image.open(photo).convert("RGB").resize((120, 90)), "JPEG")


@pytest.fixture
def fuzz_client(make_app):
    return make_app(ratelimit_enabled=False).test_client()


def check(response, started: float) -> None:
    assert time.perf_counter() - started < BOUND_S
    if response.status_code == 200:
        body = response.get_json()
        image = Image.open(io.BytesIO(base64.b64decode(body["image"])))
        assert image.size == (body["width"], body["height"]) and body["mimetype"] == f"image/{image.format.lower()}"
    else:
        assert response.status_code in (400, 503), response.get_json()  # bad option, or a model not loaded here
        assert_error(response, response.status_code)


@FUZZ
@given(fields=st.dictionaries(FIELDS, TEXT, max_size=6))
@example(fields={"quality": "١٢٣"})
@example(fields={"bg_color": "\x00", "max_width": "𝟘"})
@example(fields={"model": "silueta"})
def test_form_options(fuzz_client, small_photo, fields):
    fields.pop("file", None)
    started = time.perf_counter()
    response = fuzz_client.post(
        "/remove-background-preview", data={"file": (io.BytesIO(small_photo), "x.jpg"), **fields}
    )
    check(response, started)


@FUZZ
@given(fields=st.dictionaries(FIELDS, JSON_VALUE, max_size=6), ascii_only=st.booleans())
@example(fields={"quality": 1e308, "max_width": float("nan")}, ascii_only=True)
@example(fields={"trim": [], "bg_color": {"a": None}}, ascii_only=False)
@example(fields={"refine": "\ud800"}, ascii_only=True)
def test_json_options(fuzz_client, small_photo, fields, ascii_only):
    fields["image"] = base64.b64encode(small_photo).decode()
    raw = json.dumps(fields, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    started = time.perf_counter()
    response = fuzz_client.post("/remove-background-base64", data=raw, content_type="application/json")
    check(response, started)
