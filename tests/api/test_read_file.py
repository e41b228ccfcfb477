"""/read-file: one identical 404 for every refusal, exact bytes for a real image inside the directory."""

from __future__ import annotations

import base64
import os
import time

import pytest


@pytest.fixture
def served(tmp_path, photo_bytes):
    """READ_FILE_DIR with an image, a subfolder, and traps around it."""
    base = tmp_path / "images"
    (base / "sub").mkdir(parents=True)
    (base / "car.jpg").write_bytes(photo_bytes)
    (base / "sub" / "car2.jpg").write_bytes(photo_bytes)
    (base / "notes.txt").write_text("not an image")
    (base / "big.jpg").write_bytes(photo_bytes + b"\0" * 200_000)
    outside = tmp_path / "images-private"  # a sibling whose name starts like the base
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(photo_bytes)
    (tmp_path / "secret.jpg").write_bytes(photo_bytes)
    os.symlink(tmp_path / "secret.jpg", base / "link.jpg")
    os.symlink(outside, base / "linkdir")
    os.mkfifo(base / "fifo.jpg")
    return base


@pytest.fixture
def rf_client(make_app, served):
    return make_app(read_file_dir=served, max_content_length=150_000, rate_limit_read_file_per_hour=1000).test_client()


def read(client, path):
    return client.post("/read-file", json={"path": path})


def test_a_real_image_is_returned_exactly(rf_client, photo_bytes):
    for path in ("car.jpg", "sub/car2.jpg"):
        r = read(rf_client, path)
        assert r.status_code == 200
        body = r.get_json()
        assert base64.b64decode(body["image"]) == photo_bytes
        assert (body["success"], body["mimetype"], body["size"]) == (True, "image/jpeg", len(photo_bytes))
        assert body["filename"] == path.split("/")[-1]


REFUSED = [
    "../secret.jpg",
    "../images-private/secret.jpg",
    "/etc/passwd",
    "/proc/self/environ",
    "%2e%2e/secret.jpg",
    "..%2fsecret.jpg",
    "sub/../../secret.jpg",
    "car.jpg\x00.png",
    "link.jpg",
    "linkdir/secret.jpg",
    "fifo.jpg",
    "sub",
    "sub/",
    "",
    ".",
    "notes.txt",
    "big.jpg",
    "missing.jpg",
    "sub//car2.jpg",
    "./car.jpg",
    "sub\\car2.jpg",
    "a" * 5000,
]


@pytest.mark.parametrize("path", REFUSED)
def test_every_refusal_is_the_same_404(rf_client, path):
    started = time.monotonic()
    r = read(rf_client, path)
    assert time.monotonic() - started < 2  # a FIFO must not block
    assert r.status_code == 404
    body = r.get_json()
    body.pop("request_id")
    reference = read(rf_client, "missing.jpg").get_json()
    reference.pop("request_id")
    assert body == reference
    assert "secret" not in r.get_data(as_text=True)


@pytest.mark.parametrize("path", [None, 5, ["car.jpg"], {"p": 1}])
def test_non_string_paths_are_refused_alike(rf_client, path):
    assert read(rf_client, path).status_code == 404


def test_missing_path_is_400(rf_client):
    assert rf_client.post("/read-file", json={}).status_code == 400


def test_disabled_without_read_file_dir(client):
    r = read(client, "car.jpg")
    assert r.status_code == 404 and "disabled" in r.get_json()["details"]
