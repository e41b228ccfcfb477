"""remove.bg v1.0 on our engine: every option's effect on the pixels, its headers, JSON, errors, limits and account."""

from __future__ import annotations

import base64
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from bgremover.errors import ImageUrlDisabled
from bgremover.processing import layout
from bgremover.processing.decode import Limits, decode
from tests.conftest import decode_output, encode_image

URL = "/v1.0/removebg"


@pytest.fixture
def client(make_app):
    return make_app(rate_limit_removebg_per_hour=1000).test_client()


@pytest.fixture(scope="module")
def plants(data_dir) -> bytes:
    """A 987 × 1481 photo (1.46 MP): large enough for the size caps."""
    return (data_dir / "rembg-fixtures" / "fixtures" / "plants-1.jpg").read_bytes()


def post(client, image: bytes | None = None, **fields):
    if image is not None:
        fields["image_file"] = (io.BytesIO(image), "photo.jpg")
    return client.post(URL, data=fields)


def rgba(response) -> np.ndarray:
    assert response.status_code == 200, response.get_data(as_text=True)
    return np.asarray(decode_output(response.data).convert("RGBA"))


def assert_same_cutout(got: np.ndarray, expected: np.ndarray) -> None:
    """Same alpha, and the same colours where opaque (soft edges near a new border may take other edge colours)."""
    assert got.shape == expected.shape
    assert np.array_equal(got[:, :, 3], expected[:, :, 3])
    opaque = expected[:, :, 3] == 255
    assert np.array_equal(got[:, :, :3][opaque], expected[:, :, :3][opaque])


def error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"errors"} and len(body["errors"]) == 1
    return body["errors"][0]


@pytest.fixture(scope="module")
def reference(registry, tmp_path_factory, photo_bytes):
    """The full-size transparent PNG of the car photo: what every layout is compared with."""
    from bgremover.app import create_app
    from bgremover.settings import load_settings

    folder = tmp_path_factory.mktemp("ref")
    app = create_app(load_settings(_env_file=None, ratelimit_enabled=False, log_file=folder / "log"), registry=registry)
    response = post(app.test_client(), photo_bytes, size="full", format="png")
    return rgba(response)


def test_default_is_a_transparent_png_with_remove_bgs_headers(client, photo_bytes, reference):
    response = post(client, photo_bytes)
    pixels = rgba(response)
    assert response.mimetype == "image/png"  # format=auto, and the cut-out has transparency
    assert np.array_equal(pixels, reference)  # 480 × 360 is under the 0.25 MP preview cap: unchanged
    left, top, right, bottom = layout.subject_box(pixels[:, :, 3] / 255.0)
    assert response.headers["X-Width"] == "480" and response.headers["X-Height"] == "360"
    assert response.headers["X-Type"] == "auto" and response.headers["X-Credits-Charged"] == "1"
    foreground = [response.headers[f"X-Foreground-{k}"] for k in ("Top", "Left", "Width", "Height")]
    assert foreground == [str(top), str(left), str(right - left), str(bottom - top)]
    assert 0 < right - left < 480 and "X-RateLimit-Remaining" in response.headers


def test_type_is_reported_not_used(client, photo_bytes, reference):
    response = post(client, photo_bytes, type="car", type_level="2", semitransparency="false", add_shadow="false")
    assert response.headers["X-Type"] == "car"
    assert np.array_equal(rgba(response), reference)


@pytest.mark.parametrize(("size", "cap"), [("preview", 250_000), ("medium", 1_500_000), ("auto", None)])
def test_size_caps_downscale_only(client, plants, size, cap):
    response = post(client, plants, size=size)
    width, height = decode_output(response.data).size
    assert (str(width), str(height)) == (response.headers["X-Width"], response.headers["X-Height"])
    if cap is None or cap >= 987 * 1481:
        assert (width, height) == (987, 1481)
    else:
        assert cap * 0.97 <= width * height <= cap and abs(width / height - 987 / 1481) < 0.01


def test_crop_is_the_subject_box_plus_clamped_margins(client, photo_bytes, reference):
    left, top, right, bottom = layout.subject_box(reference[:, :, 3] / 255.0)
    tight = rgba(post(client, photo_bytes, size="full", format="png", crop="true"))
    assert_same_cutout(tight, reference[top:bottom, left:right])
    margin = rgba(post(client, photo_bytes, size="full", format="png", crop="true", crop_margin="10px 400%"))
    # 10 px top and bottom; 400% of the width is capped at 50% of it (and at 500 px) on each side
    side = round(min(0.5 * (right - left), 500))
    assert margin.shape[:2] == (bottom - top + 20, right - left + 2 * side)
    assert_same_cutout(margin[10:-10, side:-side], reference[top:bottom, left:right])
    assert margin[:10, :, 3].max() <= 8 and margin[:, :side, 3].max() <= 8  # nothing of the subject out there


def test_roi_makes_everything_outside_background(client, photo_bytes, reference):
    pixels = rgba(post(client, photo_bytes, size="full", format="png", roi="0px 0px 240px 100%"))
    assert pixels[:, 240:, 3].max() == 0
    assert_same_cutout(pixels[:, :230], reference[:, :230])


def test_a_roi_without_subject_is_remove_bgs_400(client, photo_bytes):
    response = post(client, photo_bytes, roi="0% 0% 3% 3%")
    assert response.status_code == 400 and error(response)["code"] == "unknown_foreground"


def test_scale_and_position_place_the_subject(client, photo_bytes):
    pixels = rgba(post(client, photo_bytes, size="full", format="png", scale="50%", position="0% 100%"))
    left, top, right, bottom = layout.subject_box(pixels[:, :, 3] / 255.0)
    assert pixels.shape[:2] == (360, 480)
    assert max((right - left) / 480, (bottom - top) / 360) == pytest.approx(0.5, abs=0.01)
    assert left <= 1 and bottom >= 359


def test_channels_alpha_is_the_matte(client, photo_bytes, reference):
    response = post(client, photo_bytes, size="full", channels="alpha")
    image = decode_output(response.data)
    assert response.mimetype == "image/png" and image.mode == "L"
    assert np.array_equal(np.asarray(image), reference[:, :, 3])


def test_zip_holds_color_jpg_and_alpha_png(client, photo_bytes, reference):
    response = post(client, photo_bytes, size="full", format="zip")
    assert response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist() == ["color.jpg", "alpha.png"]
    alpha = np.asarray(Image.open(io.BytesIO(archive.read("alpha.png"))))
    color = np.asarray(Image.open(io.BytesIO(archive.read("color.jpg"))), np.float32)
    assert np.array_equal(alpha, reference[:, :, 3])
    opaque = reference[:, :, 3] == 255
    assert np.abs(color[opaque] - reference[:, :, :3][opaque]).mean() < 3  # JPEG's loss only


def test_bg_image_file_covers_the_canvas_behind_the_subject(client, photo_bytes, plants, reference):
    response = post(client, photo_bytes, size="full", format="png", bg_image_file=(io.BytesIO(plants), "bg.jpg"))
    assert response.mimetype == "image/png" and decode_output(response.data).mode == "RGB"
    pixels = np.asarray(decode_output(response.data), np.int16)
    expected_bg = layout.cover(decode(plants, Limits()).rgb, 480, 360)
    a = reference[:, :, 3]
    assert np.abs(pixels[a == 0] - expected_bg[a == 0]).max() <= 1  # alpha under 0.5/255 lets 1 level through
    assert np.abs(pixels[a == 255] - reference[:, :, :3][a == 255]).max() <= 1


def test_bg_color_names_and_auto_jpeg(client, photo_bytes, reference):
    response = post(client, photo_bytes, size="full", bg_color="green")
    assert response.mimetype == "image/jpeg"  # format=auto: nothing transparent left
    pixels = np.asarray(decode_output(response.data).convert("RGB"), np.float32)
    background = reference[:, :, 3] == 0
    assert np.abs(pixels[background] - (0, 128, 0)).mean() < 4
    translucent = post(client, photo_bytes, bg_color="00ff0080")
    assert translucent.mimetype == "image/png" and rgba(translucent)[0, 0, 3] == 128


def test_base64_json_body_and_json_answer(client, photo_bytes, reference):
    body = {"image_file_b64": base64.b64encode(photo_bytes).decode(), "size": "full", "crop": True}
    response = client.post(URL, json=body, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    data = response.get_json()["data"]
    cropped = np.asarray(decode_output(base64.b64decode(data["result_b64"])).convert("RGBA"))
    left, top, right, bottom = layout.subject_box(reference[:, :, 3] / 255.0)
    assert_same_cutout(cropped, reference[top:bottom, left:right])
    assert (data["foreground_top"], data["foreground_left"]) == (0, 0)
    assert (data["foreground_width"], data["foreground_height"]) == (right - left, bottom - top)


def test_urlencoded_base64(client, photo_bytes):
    response = client.post(URL, data={"image_file_b64": base64.b64encode(photo_bytes).decode(), "format": "jpg"})
    assert response.status_code == 200 and response.mimetype == "image/jpeg"


@pytest.mark.parametrize(
    ("fields", "title"),
    [
        ({"size": "auto"}, "No image given"),
        ({"image_url": "https://example.com/a.jpg"}, ImageUrlDisabled.message),
        ({"image_file_b64": "aGVsbG8=", "image_url": "https://example.com/a.jpg"}, "Only one of"),
        ({"image_file_b64": "%%%"}, "Invalid parameter 'image_file_b64': not valid base64"),
        ({"image_file_b64": "aGVsbG8=", "bg_color": "red", "bg_image_url": "https://e.com/b.jpg"}, "Only one of"),
        ({"image_file_b64": "aGVsbG8=", "size": "giant"}, "Invalid parameter 'size'"),
        ({"image_file_b64": "aGVsbG8="}, "Unsupported file format"),
    ],
)
def test_errors_have_remove_bgs_shape(client, fields, title):
    response = client.post(URL, data=fields)
    assert response.status_code == 400 and error(response)["title"].startswith(title)


def test_undecodable_and_too_small_images_are_400s_with_our_codes(client, photo_bytes):
    tiny = encode_image(Image.new("RGB", (20, 20), "white"), "PNG")
    assert error(post(client, tiny))["code"] == "image_too_small"
    assert error(post(client, photo_bytes[:2000]))["code"] == "invalid_image"


def test_framework_errors_on_these_routes_have_the_shape_too(make_app):
    client = make_app(max_content_length=4096, rate_limit_removebg_per_hour=1).test_client()
    too_big = client.post(URL, data={"image_file": (io.BytesIO(b"x" * 8000), "a.jpg")})
    assert too_big.status_code == 400 and error(too_big)["code"] == "payload_too_large"
    limited = client.post(URL, data={})
    assert limited.status_code == 429 and error(limited)["code"] == "rate_limited"
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3600
    wrong_method = client.get(URL)
    assert wrong_method.status_code == 405 and error(wrong_method)["code"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["Allow"]
    missing = client.get("/v1.0/nothing")
    assert missing.status_code == 404 and error(missing)["code"] == "not_found"
    assert client.get("/no-such-page").get_json()["code"] == "not_found"  # the native shape elsewhere


def test_unsupported_body_type(client):
    response = client.post(URL, data="x", content_type="text/plain")
    assert response.status_code == 400 and error(response)["title"] == "Unsupported request body"


def test_account_reports_what_is_left_of_the_hourly_limit(make_app):
    client = make_app(rate_limit_removebg_per_hour=7).test_client()
    first = client.get("/v1.0/account").get_json()
    assert first == {
        "data": {
            "attributes": {
                "credits": {"subscription": 7, "payg": 0, "enterprise": 0, "total": 7},
                "api": {"free_calls": 7, "sizes": "all"},
            }
        }
    }
    for _ in range(3):
        client.post(URL, data={})
    assert client.get("/v1.0/account").get_json()["data"]["attributes"]["credits"]["total"] == 4
    other = client.get("/v1.0/account", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other.get_json()["data"]["attributes"]["credits"]["total"] == 7  # per caller
    assert make_app(ratelimit_enabled=False).test_client().get("/v1.0/account").status_code == 200


def test_counted_in_metrics_and_described_in_openapi(client):
    def count() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        line = 'bgremover_requests_total{endpoint="/v1.0/removebg",method="POST",status="400"}'
        return next((float(row.split()[-1]) for row in text.splitlines() if row.startswith(line)), 0.0)

    before = count()
    client.post(URL, data={})
    assert count() == before + 1
    doc = client.get("/openapi.json").get_json()
    operation = doc["paths"]["/v1.0/removebg"]["post"]
    assert "1000/hour" in operation["summary"]
    fields = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"image_file", "image_file_b64", "roi", "crop_margin", "bg_image_file"} <= set(fields)
    assert "ignored" in fields["shadow_type"]["description"] and "ignored" not in fields["add_shadow"]["description"]
    assert "X-Foreground-Top" in operation["responses"]["200"]["headers"]
    assert "/v1.0/account" in doc["paths"]


def test_processing_timeout_is_a_504_in_remove_bgs_shape(make_app, photo_bytes):
    client = make_app(processing_timeout_s=0.001, ratelimit_enabled=False).test_client()
    response = post(client, photo_bytes)
    assert response.status_code == 504 and error(response)["code"] == "processing_timeout"
