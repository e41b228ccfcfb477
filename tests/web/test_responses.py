"""The result JSON and headers, from an engine Result alone; and the key order the spec gives, over HTTP."""

from __future__ import annotations

import base64
import json

import pytest
from PIL import Image

from bgremover.processing import Result, parse_options
from bgremover.web.headers import RESULT_HEADERS, Header
from bgremover.web.responses import headers, result_json
from tests.conftest import encode_image

TOP_KEYS = [
    "success",
    "image",
    "mimetype",
    "size",
    "width",
    "height",
    "optimization",
    "processing_time_ms",
    "certainty",
]
OPTIMIZATION_KEYS = [
    "format",
    "quality",
    "preset",
    "dimensions",
    "original_size",
    "optimized_size",
    "compression_ratio",
]


DATA = bytes(range(20))  # the "encoded image": 20 bytes from a 1000-byte input


def _result(**raw: object) -> Result:
    return Result(
        data=DATA,
        format="WEBP",
        width=300,
        height=200,
        input_size=1000,
        options=parse_options(raw),
        certainty=0.8125,
        timings_ms={"decode": 1.4, "segment": 100.2, "encode": 3.0},
    )


def test_result_json_in_the_specs_order_and_values():
    body = result_json(_result(preset="mobile"))
    assert list(body) == TOP_KEYS and list(body["optimization"]) == OPTIMIZATION_KEYS
    assert base64.b64decode(body["image"]) == DATA
    assert (body["mimetype"], body["size"], body["width"], body["height"]) == ("image/webp", 20, 300, 200)
    assert body["optimization"] == {
        "format": "WEBP",
        "quality": 70,
        "preset": "mobile",
        "dimensions": "300x200",
        "original_size": 1000,
        "optimized_size": 20,
        "compression_ratio": "98%",
    }
    assert body["processing_time_ms"] == 105 and body["certainty"] == 0.8125


@pytest.mark.parametrize(("raw", "shaped"), [({}, "false"), ({"model": "u2netp"}, "false"), ({"trim": "1"}, "true")])
def test_headers_are_the_result_headers(raw, shaped):
    found = headers(_result(**raw))
    assert list(found) == list(RESULT_HEADERS)
    assert found[Header.OPTIMIZATION_USED] == shaped
    assert found[Header.ORIGINAL_SIZE] == "1000" and found[Header.OPTIMIZED_SIZE] == "20"
    assert (found[Header.IMAGE_WIDTH], found[Header.IMAGE_HEIGHT]) == ("300", "200")
    assert found[Header.PROCESSING_TIME] == "105" and found[Header.CERTAINTY] == "0.8125"


def test_json_keys_reach_the_client_in_the_specs_order(client):
    photo = encode_image(Image.new("RGB", (64, 64), (200, 40, 40)), "PNG")
    r = client.post("/remove-background-base64", json={"image": base64.b64encode(photo).decode(), "format": "webp"})
    assert r.status_code == 200
    body = json.loads(r.get_data(as_text=True))  # dicts keep the order of the text
    assert list(body) == TOP_KEYS and list(body["optimization"]) == OPTIMIZATION_KEYS
