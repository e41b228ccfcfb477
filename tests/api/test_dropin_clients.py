"""Drop-in, end to end: remove.bg's Python clients from PyPI, remove.bg's documented requests and rembg's README
curl lines, all unchanged but for the base URL, against the real app under gunicorn on 127.0.0.1."""

from __future__ import annotations

import base64
import io
import json
import shlex
import subprocess
import zipfile

import numpy as np
import pytest
import remove_bg_api
import removebg
import removebg.removebg
import requests
from PIL import Image

from bgremover.errors import ImageUrlDisabled
from tests.services import AppServer, require_binary

LIMIT = 500


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dropin")
    app = AppServer({"RATE_LIMIT_REMOVEBG_PER_HOUR": str(LIMIT), "RATE_LIMIT_REMBG_PER_HOUR": str(LIMIT)}, folder)
    try:
        yield app.start(timeout=180)
    finally:
        app.stop()


@pytest.fixture
def photo(tmp_path, photo_bytes):
    path = tmp_path / "file.jpg"
    path.write_bytes(photo_bytes)
    return path


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# ---- remove-bg-api (PyPI): endpoint from the module constant it reads on every call ------------------------------


@pytest.fixture
def remove_bg_api_client(server, monkeypatch):
    monkeypatch.setattr(remove_bg_api, "API_URL", f"{server.url}/v1.0")
    return remove_bg_api.RemoveBg("any-key")  # fetches /v1.0/account on creation


def test_remove_bg_api_file_base64_colour_and_account(remove_bg_api_client, photo, photo_bytes):
    client = remove_bg_api_client
    credits = client.account.balance()
    assert 0 < credits <= LIMIT
    cutout = opened(client.remove_bg_file(str(photo), raw=True))
    assert cutout.format == "PNG" and cutout.mode == "RGBA" and cutout.size == (480, 360)
    assert client.account.balance() == credits - 1  # it subtracts the X-Credits-Charged it was sent
    from_b64 = client.remove_bg_base64(base64.b64encode(photo_bytes).decode(), raw=True)
    assert np.array_equal(np.asarray(opened(from_b64)), np.asarray(cutout))
    coloured = opened(client.remove_bg_file(str(photo), raw=True, data={"bg_color": "ff0000", "format": "png"}))
    assert coloured.mode == "RGB" and coloured.getpixel((0, 0)) == (255, 0, 0)
    client.account.refresh_balance()
    assert client.account.balance() == credits - 3
    assert client.account.get_balance_dict()["total"] == credits - 3


def test_remove_bg_api_bad_image_raises_its_own_400_error(remove_bg_api_client):
    with pytest.raises(remove_bg_api.Errors.ApiErrorCode400):
        remove_bg_api_client.remove_bg_bytes(b"this is not an image")


# ---- removebg (PyPI): endpoint from the module constant; errors through requests' raise_for_status --------------


@pytest.fixture
def removebg_client(server, monkeypatch, tmp_path):
    monkeypatch.setattr(removebg.removebg, "API_ENDPOINT", f"{server.url}/v1.0/removebg")
    return removebg.RemoveBg("any-key", str(tmp_path / "errors.log"))


def test_removebg_file_base64_and_colour(removebg_client, photo, photo_bytes, tmp_path):
    removebg_client.remove_background_from_img_file(str(photo), size="regular", bg_color="blue")
    coloured = Image.open(f"{photo}_no_bg.png")  # the client names it .png; format=auto sent a JPEG, as remove.bg does
    assert coloured.format == "JPEG" and coloured.size == (480, 360)
    assert np.abs(np.subtract(coloured.getpixel((0, 0)), (0, 0, 255))).max() <= 3
    out = tmp_path / "no-bg.png"
    removebg_client.remove_background_from_base64_img(base64.b64encode(photo_bytes).decode(), new_file_name=str(out))
    assert Image.open(out).mode == "RGBA"


def test_removebg_bad_image_raises_a_400(removebg_client, tmp_path):
    with pytest.raises(requests.HTTPError) as caught:
        removebg_client.remove_background_from_base64_img("aGVsbG8=", new_file_name=str(tmp_path / "x.png"))
    assert caught.value.response.status_code == 400
    assert caught.value.response.json()["errors"][0]["title"] == "Unsupported file format"


# ---- remove.bg's documented requests, as its API reference gives them (only the host changed) ---------------------


def test_documented_file_upload(server, photo, tmp_path):
    response = requests.post(
        f"{server.url}/v1.0/removebg",
        files={"image_file": open(photo, "rb")},  # noqa: SIM115 - the documented example as written
        data={"size": "auto"},
        headers={"X-Api-Key": "INSERT_YOUR_API_KEY_HERE"},
        timeout=60,
    )
    assert response.status_code == requests.codes.ok
    (tmp_path / "no-bg.png").write_bytes(response.content)
    assert Image.open(tmp_path / "no-bg.png").mode == "RGBA"
    assert {"X-Width", "X-Height", "X-Type", "X-Credits-Charged"} <= set(response.headers)


def test_documented_url_example_says_url_inputs_are_off(server):
    response = requests.post(
        f"{server.url}/v1.0/removebg",
        data={"image_url": "https://www.remove.bg/example.jpg", "size": "auto"},
        headers={"X-Api-Key": "INSERT_YOUR_API_KEY_HERE"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["title"] == ImageUrlDisabled.message


def test_documented_base64_json_with_json_answer(server, photo_bytes):
    response = requests.post(
        f"{server.url}/v1.0/removebg",
        json={"image_file_b64": base64.b64encode(photo_bytes).decode(), "size": "auto", "format": "zip"},
        headers={"X-Api-Key": "INSERT_YOUR_API_KEY_HERE", "Accept": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200
    data = response.json()["data"]
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(data["result_b64"])))
    assert archive.namelist() == ["color.jpg", "alpha.png"]
    assert {"foreground_top", "foreground_left", "foreground_width", "foreground_height"} <= set(data)


def test_documented_account_request(server):
    response = requests.get(f"{server.url}/v1.0/account", headers={"X-Api-Key": "INSERT_YOUR_API_KEY_HERE"}, timeout=10)
    credits = response.json()["data"]["attributes"]["credits"]
    assert response.status_code == 200 and credits["total"] == credits["subscription"] <= LIMIT


# ---- rembg's README curl lines, as written there (only host and port changed) ------------------------------------

README_UPLOAD = 'curl -s -F file=@/path/to/input.jpg "http://localhost:7000/api/remove" -o output.png'
README_URL = 'curl -s "http://localhost:7000/api/remove?url=http://input.png" -o output.png'


def run_readme_line(line: str, server: AppServer, photo, cwd) -> None:
    curl = require_binary("curl")
    argv = shlex.split(line.replace("http://localhost:7000", server.url).replace("/path/to/input.jpg", str(photo)))
    subprocess.run([curl, *argv[1:]], cwd=cwd, check=True, timeout=60)


def test_rembg_readme_upload(server, photo, tmp_path):
    run_readme_line(README_UPLOAD, server, photo, tmp_path)
    output = Image.open(tmp_path / "output.png")
    assert output.format == "PNG" and output.mode == "RGBA" and output.size == (480, 360)


def test_rembg_readme_url_answers_the_url_rule(server, photo, tmp_path):
    run_readme_line(README_URL, server, photo, tmp_path)
    body = json.loads((tmp_path / "output.png").read_text())  # curl -o writes what came back: FastAPI-style JSON
    assert body["detail"] == ImageUrlDisabled.message
