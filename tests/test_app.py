"""The app factory: settings' plain values become the engine's limits, the key store and the URL allow-list."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bgremover.apikeys import KeyFileError
from bgremover.processing import matting
from tests.conftest import encode_image


def _png(width: int, height: int) -> io.BytesIO:
    return io.BytesIO(encode_image(Image.new("RGB", (width, height), (200, 40, 40)), "PNG"))


def test_the_image_limits_reach_the_engine(make_app):
    client = make_app(min_image_side=64, max_image_side=2000, max_image_pixels=1_000_000).test_client()
    for size, code in [
        ((60, 300), "image_too_small"),
        ((2001, 100), "image_too_large"),
        ((1000, 1001), "image_too_large"),
    ]:
        r = client.post("/remove-background-preview", data={"file": (_png(*size), "a.png")})
        assert r.status_code == 422 and r.get_json()["code"] == code, (size, r.get_json())
    default = make_app().test_client().post("/remove-background-preview", data={"file": (_png(60, 300), "a.png")})
    assert default.status_code == 200  # 60 px is above the default minimum side (50)


def test_the_matting_threads_reach_the_solver(make_app, monkeypatch):
    monkeypatch.setattr(matting, "solver_threads", matting.SolverThreads())
    make_app(model_threads=6, worker_threads=2)
    assert matting.solver_threads.threads == 3


def test_values_only_their_user_judges_stop_the_factory(make_app, tmp_path):
    with pytest.raises(KeyFileError, match="API_KEYS: each entry is name:sha256hex"):
        make_app(api_keys="not-an-entry")
    with pytest.raises(ValueError, match="IMAGE_URL_ALLOW_HOSTS"):
        make_app(image_url_allow_hosts="bad host")
    assert make_app(api_keys_file=tmp_path / "none-yet.json").extensions["bgremover"].keys.keys == []
