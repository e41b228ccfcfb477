"""Reading requests, on a bare Flask app: the multipart file, the JSON body, base64 images and option fields."""

from __future__ import annotations

import base64
import io

import pytest
from flask import Flask, request

from bgremover.errors import InvalidOption, PayloadTooLarge
from bgremover.processing.options import OPTION_NAMES
from bgremover.web import inputs

app = Flask(__name__)


def test_uploaded_file_gives_bytes_and_name():
    data = {"file": (io.BytesIO(b"image bytes"), "photo.jpg")}
    with app.test_request_context("/", method="POST", data=data, content_type="multipart/form-data"):
        assert inputs.uploaded_file(request) == (b"image bytes", "photo.jpg")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": b"raw", "content_type": "application/octet-stream"}, "Missing parameter 'file'"),
        ({"data": {"other": (io.BytesIO(b"x"), "a.jpg")}, "content_type": "multipart/form-data"}, "'file'"),
        ({"data": {"file": (io.BytesIO(b""), "a.jpg")}, "content_type": "multipart/form-data"}, "is empty"),
    ],
)
def test_uploaded_file_refusals_name_the_field(kwargs, message):
    with app.test_request_context("/", method="POST", **kwargs), pytest.raises(InvalidOption, match=message) as err:
        inputs.uploaded_file(request)
    assert err.value.status == 400


def test_json_body_is_an_object():
    with app.test_request_context("/", method="POST", json={"image": "x"}):
        assert inputs.json_body(request) == {"image": "x"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "{}", "content_type": "text/plain"}, "must be JSON"),
        ({"data": "{not json", "content_type": "application/json"}, "not valid JSON"),
        ({"json": [1, 2]}, "must be a JSON object"),
    ],
)
def test_json_body_refusals(kwargs, message):
    with app.test_request_context("/", method="POST", **kwargs), pytest.raises(InvalidOption, match=message):
        inputs.json_body(request)


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,"])
def test_base64_image_plain_or_data_url_with_line_breaks(prefix):
    encoded = base64.b64encode(b"\x89PNG" + bytes(range(200))).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert inputs.base64_image({"image": prefix + wrapped}, cap=1000) == b"\x89PNG" + bytes(range(200))


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        ({}, InvalidOption, "Missing parameter 'image'"),
        ({"image": ""}, InvalidOption, "Missing parameter 'image'"),
        ({"image": 42}, InvalidOption, "expected a base64 string"),
        ({"image": "not base64!"}, InvalidOption, "not valid base64"),
        ({"image": "===="}, InvalidOption, "not valid base64|is empty"),
        ({"image": "A" * 2000}, PayloadTooLarge, "File too large"),  # refused before decoding
    ],
)
def test_base64_image_refusals(body, error, message):
    with pytest.raises(error, match=message):
        inputs.base64_image(body, cap=1000)


def test_raw_options_keep_only_option_fields():
    source = {"format": "png", "image": "...", "path": "x", "trim": "", "unknown": "1"}
    assert inputs.raw_options(source) == {"format": "png", "trim": ""}
    assert set(inputs.raw_options(dict.fromkeys(OPTION_NAMES, "1"))) == set(OPTION_NAMES)
