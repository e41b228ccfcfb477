"""Bounded fuzzing of the drop-ins' field tables through their endpoints: an image, or a 4xx in that API's shape."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from bgremover.compat import rembg, removebg
from tests.api.test_fuzz_options import BOUND_S, NEAR_VALID
from tests.conftest import DATA, encode_image

REMOVEBG_VALUES = [
    *removebg.SIZES, *removebg.TYPES[:3], *removebg.FORMATS, *removebg.CHANNELS, "0px 0px 100% 100%", "0 0 1 1",
    "10% 10% 5% 90%", "0% 0% 100.0001% 100%", "999999px 0 1000000px 5", "1e3px", "5px,10%", "500% 0", "-1px",
    "100%", "10%", "9.99%", "original", "center", "0% 100%", "50% 50% 50%", "#81d4fa", "81d4fa77", "fff8", "green",
    "rgb(999,0,0)", "hsl(400, 200%, 50%)", "#00000000", "transparent",
]  # fmt: skip
REMOVEBG_FIELDS = st.sampled_from([*(f.name for f in removebg.FIELDS if f.kind != "file"), "unknown"])
# Each field's own plausible values first, so that many examples get past the parser to the layout steps
REMOVEBG_OWN = {
    **{f.name: list(f.values) for f in removebg.FIELDS if f.values},
    "roi": ["0px 0px 100% 100%", "0 0 60 90", "10% 10% 50% 90%", "0% 0% 100.0001% 100%", "99% 99% 100% 100%"],
    "crop": ["true", "false"],
    "crop_margin": ["0", "5px", "10% 20px", "1px 2px 3px 4px", "500%", "999999px"],
    "scale": ["original", "10%", "50%", "100%"],
    "position": ["original", "center", "0%", "100% 0%", "33.3% 66.6%"],
    "bg_color": ["81d4fa", "#fff8", "green", "rgb(999,0,0)", "hsl(400, 200%, 50%)", "#00000000"],
}
REMBG_VALUES = [
    "true", "false", "1", "0", "255", "256", "-1", "240", "10", "0,0,0,0", "255,255,255,255", "256,0,0,0",
    " 1 , 2 , 3 , 4 ", "1,2,3", "u2netp", "u2net", "silueta", "isnet-general-use", "../u2netp", '{"a": 1}', "{",
]  # fmt: skip
REMBG_FIELDS = st.sampled_from([*(f.name for f in rembg.FIELDS if f.kind != "file"), "unknown"])
TEXT = st.text(max_size=20)
FUZZ = settings(
    max_examples=15,
    deadline=None,  # the bound is asserted per request; a wall-clock deadline would flake on a loaded box
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def small_photo() -> bytes:
    photo = sorted((DATA / "duts-te-150" / "images").iterdir())[1]
    return encode_image(Image.open(photo).convert("RGB").resize((120, 90)), "JPEG")


@pytest.fixture
def fuzz_client(make_app):
    return make_app(ratelimit_enabled=False).test_client()


def check_removebg(response, started: float) -> None:
    """An image with remove.bg's headers, or remove.bg's error body with a 4xx."""
    assert time.perf_counter() - started < BOUND_S
    event(f"status {response.status_code}")
    if response.status_code == 200:
        if response.mimetype == "application/json":
            data = base64.b64decode(response.get_json()["data"]["result_b64"])
        else:
            data = response.data
        if response.mimetype != "application/zip":
            image = Image.open(io.BytesIO(data))
            assert image.size == (int(response.headers["X-Width"]), int(response.headers["X-Height"]))
        assert int(response.headers["X-Foreground-Width"]) > 0
        return
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"errors"} and set(body["errors"][0]) == {"title", "code", "detail"}, body


def check_rembg(response, started: float) -> None:
    """A PNG, or FastAPI's error body with a 4xx (or a 503 for an installed model this process has not loaded)."""
    assert time.perf_counter() - started < BOUND_S
    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.mimetype == "image/png" and Image.open(io.BytesIO(response.data)).format == "PNG"
        return
    body = response.get_json()
    assert {"detail", "code", "request_id"} <= set(body), body
    assert 400 <= response.status_code < 500 or (response.status_code, body["code"]) == (503, "model_not_ready"), body


@st.composite
def removebg_fields(draw: st.DrawFn) -> dict[str, str]:
    """Up to six fields, each mostly with one of its own values, else any field's, a near-valid one or any text."""
    names = draw(st.lists(REMOVEBG_FIELDS, unique=True, max_size=6))
    anything = st.sampled_from(REMOVEBG_VALUES + NEAR_VALID) | TEXT
    own = {name: st.sampled_from(REMOVEBG_OWN.get(name, REMOVEBG_VALUES)) for name in names}
    return {name: draw(own[name] if draw(st.integers(0, 5)) else anything) for name in names}


@FUZZ
@given(fields=removebg_fields(), with_background=st.booleans())
@example(fields={"bg_color": "rgb(999,0,0)", "format": "jpg"}, with_background=False)
@example(fields={"roi": "0% 0% 100.0001% 100%", "crop": "true", "crop_margin": "500%"}, with_background=True)
@example(fields={"scale": "10%", "position": "100% 0%", "format": "zip", "channels": "alpha"}, with_background=True)
def test_removebg_form_fields(fuzz_client, small_photo, fields, with_background):
    files = {"image_file": (io.BytesIO(small_photo), "a.jpg")}
    if with_background:
        files["bg_image_file"] = (io.BytesIO(small_photo), "b.jpg")
    started = time.perf_counter()
    check_removebg(fuzz_client.post("/v1.0/removebg", data={**fields, **files}), started)


JSON_VALUE = st.sampled_from(REMOVEBG_VALUES) | TEXT | st.none() | st.booleans() | st.integers() | st.floats()


@FUZZ
@given(fields=st.dictionaries(REMOVEBG_FIELDS, JSON_VALUE | st.lists(JSON_VALUE, max_size=2), max_size=6))
@example(fields={"crop": 1, "crop_margin": 1e308, "scale": None})
def test_removebg_json_fields(fuzz_client, small_photo, fields):
    fields["image_file_b64"] = base64.b64encode(small_photo).decode()
    fields.pop("image_url", None)
    started = time.perf_counter()
    response = fuzz_client.post(
        "/v1.0/removebg", data=json.dumps(fields), content_type="application/json", headers={"Accept": "*/*"}
    )
    check_removebg(response, started)


@FUZZ
@given(
    fields=st.dictionaries(REMBG_FIELDS, st.sampled_from(REMBG_VALUES + NEAR_VALID) | TEXT, max_size=6),
    in_query=st.booleans(),
)
@example(fields={"a": "true", "ae": "255"}, in_query=False)
@example(fields={"a": "true", "af": "0", "ab": "255", "ae": "255"}, in_query=False)
@example(fields={"a": "1", "af": "255", "ab": "0", "ae": "0", "om": "true", "bgc": "0,0,0,0"}, in_query=True)
def test_rembg_fields(fuzz_client, small_photo, fields, in_query):
    fields.pop("url", None)  # a URL input is refused while IMAGE_URL_ENABLED is off: test_rembg_api.py
    query = ""
    if in_query and fields:
        query = "?" + "&".join(f"{k}={v}" for k, v in fields.items() if v.isascii() and v.isalnum())
    started = time.perf_counter()
    response = fuzz_client.post(
        "/api/remove" + query, data={"file": (io.BytesIO(small_photo), "x.jpg"), **({} if query else fields)}
    )
    check_rembg(response, started)
