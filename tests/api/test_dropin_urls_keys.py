"""The drop-ins with URL inputs on (fetched from an allow-listed loopback image_server) and with API keys on."""

from __future__ import annotations

import io

import numpy as np
import pytest

from bgremover.apikeys import add_key
from bgremover.processing import layout
from bgremover.processing.decode import Limits, decode
from tests.conftest import decode_output
from tests.web.loopback import ALLOWED


def test_removebg_image_url_and_bg_image_url(url_client, image_server, photo_bytes):
    photo = f"http://{ALLOWED}:{image_server.port}/photo.jpg"
    fetched = url_client.post("/v1.0/removebg", data={"image_url": photo, "size": "full", "format": "png"})
    uploaded = url_client.post(
        "/v1.0/removebg", data={"image_file": (io.BytesIO(photo_bytes), "a.jpg"), "size": "full", "format": "png"}
    )
    assert fetched.status_code == 200 and fetched.data == uploaded.data
    over = url_client.post("/v1.0/removebg", data={"image_url": photo, "bg_image_url": photo, "format": "png"})
    pixels = np.asarray(decode_output(over.data), np.int16)
    alpha = np.asarray(decode_output(uploaded.data))[:, :, 3]
    background = layout.cover(decode(photo_bytes, Limits()).rgb, 480, 360)  # the photo behind itself
    assert over.status_code == 200 and np.abs(pixels[alpha == 0] - background[alpha == 0]).max() <= 1


def test_url_refusals_keep_each_apis_shape(url_client, trap):
    removebg = url_client.post("/v1.0/removebg", data={"image_url": f"http://localhost:{trap.port}/x.jpg"})
    rembg = url_client.get(f"/api/remove?url=http://localhost:{trap.port}/x.jpg")
    assert trap.connections == []
    assert removebg.status_code == 400 and removebg.get_json()["errors"][0]["code"] == "image_url_address_refused"
    assert rembg.status_code == 400 and rembg.get_json()["code"] == "image_url_address_refused"
    assert "detail" in rembg.get_json()


def test_rembg_get_url(url_client, image_server):
    response = url_client.get(f"/api/remove?url=http://{ALLOWED}:{image_server.port}/photo.jpg&om=true")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert decode_output(response.data).mode == "L"


def test_rembg_bad_field_is_refused_before_fetching(url_client, image_server):
    before = len(image_server.seen)
    response = url_client.get(f"/api/remove?url=http://{ALLOWED}:{image_server.port}/photo.jpg&af=999")
    assert response.status_code == 400 and len(image_server.seen) == before


@pytest.fixture
def keyed(make_app, tmp_path):
    path = tmp_path / "keys.json"
    alice, _ = add_key(path, "alice", limit=3)
    return make_app(api_keys_file=path).test_client(), alice


def test_removebg_keys_are_remove_bgs_403s(keyed):
    client, alice = keyed
    missing = client.post("/v1.0/removebg", data={"size": "auto"})
    wrong = client.get("/v1.0/account", headers={"X-Api-Key": "not-a-key"})
    assert missing.status_code == 403 and missing.get_json()["errors"][0]["code"] == "api_key_missing"
    assert wrong.status_code == 403 and wrong.get_json()["errors"][0]["code"] == "api_key_invalid"
    headers = {"X-Api-Key": alice}
    assert client.get("/v1.0/account", headers=headers).get_json()["data"]["attributes"]["credits"]["total"] == 3
    client.post("/v1.0/removebg", data={"size": "auto"}, headers=headers)  # 400 (no image), but counted
    left = client.get("/v1.0/account", headers=headers).get_json()["data"]["attributes"]["credits"]["total"]
    assert left == 2  # the key's own limit, counted per key


def test_rembg_keys_are_fastapi_shaped(keyed):
    client, alice = keyed
    missing = client.post("/api/remove", data={})
    assert missing.status_code == 401 and missing.get_json()["code"] == "api_key_missing"
    assert "detail" in missing.get_json()
    assert client.post("/api/remove", data={}, headers={"X-Api-Key": alice}).status_code == 400  # past the key
