"""rembg's server API on our engine: each field's effect on the pixels, content types, errors and limits."""

from __future__ import annotations

import io

import numpy as np
import pytest

from bgremover.errors import ImageUrlDisabled
from bgremover.processing import Options
from tests.conftest import alpha_of, decode_output

URL = "/api/remove"


@pytest.fixture
def client(make_app):
    return make_app(rate_limit_rembg_per_hour=1000).test_client()


def post(client, image: bytes, query: str = "", **fields):
    return client.post(URL + query, data={"file": (io.BytesIO(image), "input.jpg"), **fields})


def png(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "image/png"
    return decode_output(response.data)


@pytest.fixture(scope="module")
def alphas(engine, photo_bytes) -> dict[str, np.ndarray]:
    """The engine's own alpha for the car photo at each refinement level."""
    levels = ("none", "standard", "high")
    return {level: alpha_of(engine.process(photo_bytes, Options(refine=level)).data) for level in levels}


def test_default_is_the_raw_mask_cut_out_as_png(client, photo_bytes, alphas):
    image = png(post(client, photo_bytes))
    assert image.mode == "RGBA" and image.size == (480, 360)
    assert np.array_equal(np.asarray(image)[:, :, 3], alphas["none"])  # rembg without ppm: the model's mask


def test_ppm_is_our_standard_refinement(client, photo_bytes, alphas):
    assert np.array_equal(np.asarray(png(post(client, photo_bytes, ppm="true")))[:, :, 3], alphas["standard"])


def test_om_is_the_mask_alone(client, photo_bytes, alphas):
    mask = png(post(client, photo_bytes, om="true"))
    assert mask.mode == "L" and np.array_equal(np.asarray(mask), alphas["none"])


def test_bgc_from_the_query_string_as_rembg_reads_it(client, photo_bytes, alphas):
    image = png(post(client, photo_bytes, query="?bgc=255,0,0,255"))
    pixels = np.asarray(image.convert("RGB"))
    assert image.mode == "RGB"  # an opaque background leaves nothing transparent
    assert (pixels[alphas["none"] == 0] == (255, 0, 0)).all()


def test_alpha_matting_rewrites_only_the_band_between_sure_subject_and_background(client, photo_bytes):
    plain = np.asarray(png(post(client, photo_bytes, ppm="true")))[:, :, 3]
    matted = np.asarray(png(post(client, photo_bytes, a="true", af="240", ab="10", ae="10")))[:, :, 3]
    assert matted.shape == plain.shape
    values = np.unique(matted)
    assert 0 in values and 255 in values and len(values) > 50  # a real matte: sure regions and soft edges
    far = (plain == 0) & (np.abs(np.arange(480)[None, :] - 240) > 230)  # the sure background at the sides
    assert matted[far].max() == 0


@pytest.mark.parametrize("fields", [{"ae": "255"}, {"af": "0", "ab": "255", "ae": "255"}, {"af": "255"}])
def test_alpha_matting_that_cannot_run_falls_back_to_the_plain_cutout(client, photo_bytes, alphas, fields):
    """As rembg does: thresholds and erosion that leave no sure subject or background give the cut-out unmatted."""
    image = png(post(client, photo_bytes, a="true", **fields))
    assert np.array_equal(np.asarray(image)[:, :, 3], alphas["high"])  # `a` is our `high`, then matting


@pytest.mark.parametrize("fields", [{"ae": "255", "af": "0", "ab": "255"}, {"ae": "100", "af": "10", "ab": "250"}])
def test_alpha_matting_of_a_nearly_all_unknown_trimap_answers_a_cutout(client, data_dir, fields):
    """Thresholds that leave almost every pixel unknown on this photo: the bounded solve answers 200, a real cut-out."""
    photo = (data_dir / "duts-te-150" / "images" / "ILSVRC2012_test_00000914.jpg").read_bytes()
    image = png(post(client, photo, a="true", **fields))
    assert image.mode == "RGBA" and image.size == decode_output(photo).size
    alpha = np.asarray(image)[:, :, 3]
    assert alpha.min() == 0 and alpha.max() == 255 and (alpha == 255).mean() > 0.05  # subject and background


def test_ignored_fields_are_accepted(client, photo_bytes, alphas):
    image = png(post(client, photo_bytes, dc="true", vm="false", extras='{"session": "x"}', model="u2netp"))
    assert np.array_equal(np.asarray(image)[:, :, 3], alphas["none"])


@pytest.mark.parametrize(
    ("fields", "status", "detail"),
    [
        ({"model": "no-such-model"}, 400, "Invalid parameter 'model': unknown model"),
        ({"model": "u2net_human_seg"}, 503, "The model is not ready (Model 'u2net_human_seg' is not loaded"),
        ({"af": "300"}, 400, "Invalid parameter 'af'"),
        ({"bgc": "red"}, 400, "Invalid parameter 'bgc'"),
    ],
)
def test_bad_fields_are_fastapi_shaped_errors(client, photo_bytes, fields, status, detail):
    response = post(client, photo_bytes, **fields)
    body = response.get_json()
    assert response.status_code == status and body["detail"].startswith(detail)
    assert body["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "model,status,code,detail",
    [
        ("bria-rmbg", 403, "model_licence_not_accepted", "This model's licence has not been accepted on this server"),
        ("withoutbg", 400, "model_not_served", "This model is not served here ('withoutbg' sends each image"),
        ("sam", 400, "model_not_served", "This model is not served here ('sam' segments what point or box"),
    ],
)
def test_a_model_rembg_knows_but_this_server_refuses_says_why(client, photo_bytes, model, status, code, detail):
    for response in (
        post(client, photo_bytes, model=model),
        client.get(f"{URL}?url=http://x.test/a.png&model={model}"),
    ):
        body = response.get_json()
        assert response.status_code == status and body["code"] == code and body["detail"].startswith(detail), body
    assert "CC-BY-NC-4.0" in post(client, photo_bytes, model="bria-rmbg").get_json()["detail"]


def test_bria_rmbg_accepted_is_an_ordinary_model_this_server_did_not_load(make_app, photo_bytes):
    client = make_app(rate_limit_rembg_per_hour=1000, accept_noncommercial_models=True).test_client()
    response = post(client, photo_bytes, model="bria-rmbg")
    assert response.status_code == 503 and response.get_json()["code"] == "model_not_ready"


def test_input_errors(client):
    missing = client.post(URL, data={"a": "false"})
    assert missing.status_code == 400 and missing.get_json()["detail"] == "Missing parameter 'file'"
    bad = post(client, b"not an image at all")
    assert bad.status_code == 415 and bad.get_json()["code"] == "unsupported_format"
    no_url = client.get(URL)
    assert no_url.status_code == 400 and no_url.get_json()["detail"] == "Missing parameter 'url'"
    url = client.get(URL + "?url=http://input.png")
    assert url.status_code == 400 and url.get_json()["detail"] == ImageUrlDisabled.message
    wrong = client.put(URL)
    assert wrong.status_code == 405 and "detail" in wrong.get_json()


def test_get_and_post_share_one_limit(make_app):
    client = make_app(rate_limit_rembg_per_hour=2).test_client()
    client.get(URL + "?url=http://input.png")
    client.post(URL, data={})
    limited = client.get(URL + "?url=http://input.png")
    assert limited.status_code == 429 and limited.get_json()["code"] == "rate_limited"
    assert "detail" in limited.get_json() and int(limited.headers["Retry-After"]) > 0
    assert client.post("/remove-background-preview", data={}).status_code != 429  # other limits untouched


def test_processing_timeout_is_a_504_detail(make_app, photo_bytes):
    client = make_app(processing_timeout_s=0.001, ratelimit_enabled=False).test_client()
    response = post(client, photo_bytes, a="true")
    assert response.status_code == 504 and response.get_json()["code"] == "processing_timeout"
    assert response.get_json()["detail"].startswith("Processing took too long")
