"""The `shadow` option through the API (native and remove.bg's `add_shadow`), on a real photo and the real model."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.conftest import decode_output


def upload(data: bytes, **fields):
    return {"file": (io.BytesIO(data), "photo.jpg"), **fields}


def rgba(response) -> np.ndarray:
    assert response.status_code == 200, response.get_data(as_text=True)
    return np.asarray(decode_output(response.data).convert("RGBA")).astype(int)


def centroid(mask: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero(mask)
    return float(ys.mean()), float(xs.mean())


@pytest.fixture
def client(make_app):
    return make_app(rate_limit_remove_bg_per_hour=1000, rate_limit_removebg_per_hour=1000).test_client()


@pytest.fixture
def plain(client, photo_bytes) -> np.ndarray:
    return rgba(client.post("/remove-background", data=upload(photo_bytes)))


def test_shadow_is_a_soft_black_shade_below_and_right_of_the_subject(client, photo_bytes, plain):
    response = client.post("/remove-background", data=upload(photo_bytes, shadow="true"))
    shaded = rgba(response)
    assert response.headers["X-Optimization-Used"] == "true"
    clear, opaque = plain[:, :, 3] == 0, plain[:, :, 3] == 255
    cast = clear & (shaded[:, :, 3] > 0)
    assert cast.sum() > 1000
    assert (shaded[cast, :3] == 0).all() and shaded[cast, 3].max() <= 128  # black, at most half opaque
    assert np.array_equal(shaded[opaque], plain[opaque])  # the subject itself is untouched
    (sy, sx), (cy, cx) = centroid(plain[:, :, 3] > 128), centroid(cast)
    assert cy > sy and cx > sx  # it falls down and to the right


def test_shadow_over_a_colour_darkens_the_colour(client, photo_bytes, plain):
    shaded = rgba(client.post("/remove-background", data=upload(photo_bytes, shadow="yes", bg_color="#ffffff")))
    flat = rgba(client.post("/remove-background", data=upload(photo_bytes, bg_color="#ffffff")))
    clear = plain[:, :, 3] == 0
    assert (flat[clear] == 255).all()
    darker = clear & (shaded[:, :, 0] < 250)
    assert darker.sum() > 1000 and (shaded[:, :, 3] == 255).all()
    assert shaded[darker, 0].min() >= 255 // 2 - 1  # at most half the light is taken


def test_shadow_is_left_out_of_masks(client, photo_bytes):
    mask = client.post("/remove-background", data=upload(photo_bytes, mask_only="true"))
    masked = client.post("/remove-background", data=upload(photo_bytes, mask_only="true", shadow="true"))
    assert np.array_equal(rgba(mask), rgba(masked))


def test_a_bad_shadow_value_is_a_400_naming_it(client, photo_bytes):
    response = client.post("/remove-background", data=upload(photo_bytes, shadow="maybe"))
    assert response.status_code == 400 and "'shadow'" in response.get_json()["error"]


def test_removebg_add_shadow_is_our_shadow(client, photo_bytes):
    native = rgba(client.post("/remove-background", data=upload(photo_bytes, shadow="true")))
    fields = {"image_file": (io.BytesIO(photo_bytes), "photo.jpg"), "add_shadow": "true"}
    dropin = rgba(client.post("/v1.0/removebg", data=fields))
    assert np.array_equal(dropin, native)
    fields = {"image_file": (io.BytesIO(photo_bytes), "photo.jpg"), "add_shadow": "no-thanks"}
    response = client.post("/v1.0/removebg", data=fields)
    assert response.status_code == 400 and "add_shadow" in response.get_json()["errors"][0]["title"]
