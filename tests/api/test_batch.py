"""POST /remove-background-batch: real photos in, a streamed ZIP with a manifest out; a batch of N counts N."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from PIL import Image

from tests.api.test_errors import assert_error

PATH = "/remove-background-batch"


@pytest.fixture(scope="module")
def photos(data_dir) -> list[tuple[str, bytes]]:
    files = sorted((data_dir / "duts-te-150" / "images").glob("*.jpg"))[:10]
    return [(f.name, f.read_bytes()) for f in files]


def parts(files: list[tuple[str, bytes]], **options: str) -> dict:
    return {"file": [(io.BytesIO(data), name) for name, data in files], **options}


def spy(app) -> list[int]:
    """Count the engine's calls (the real engine still does the work)."""
    engine = app.extensions["bgremover"].engine
    real, calls = engine.process, []

    def counted(data, options, **kwargs):
        calls.append(len(data))
        return real(data, options, **kwargs)

    engine.process = counted
    return calls


def test_ten_photos_with_a_broken_one_and_the_limit_arithmetic(make_app, photos):
    app = make_app(rate_limit_batch_per_hour=15)
    calls = spy(app)
    client = app.test_client()
    data = photos[5][1]
    files = [*photos[:5], ("broken.jpg", data[: len(data) // 3]), *photos[6:]]  # a truncated JPEG in the middle

    r = client.post(PATH, data=parts(files, format="webp", max_width="300"))
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert r.headers["Content-Disposition"] == 'attachment; filename="bgremover-batch.zip"'
    assert r.headers["X-RateLimit-Limit"] == "15" and r.headers["X-RateLimit-Remaining"] == "5"
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    assert archive.testzip() is None
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["succeeded"], manifest["failed"]) == (9, 1)
    assert manifest["request_id"] == r.headers["X-Request-ID"]
    entries = manifest["files"]
    assert [e["file"] for e in entries] == [n for n, _ in files]
    broken = entries[5]
    assert broken["status"] == "error" and broken["error"]["code"] == "invalid_image" and "output" not in broken
    expected = [f"{n.rsplit('.', 1)[0]}-no-bg.webp" for n, _ in files if n != "broken.jpg"]
    assert sorted(archive.namelist()) == sorted([*expected, "manifest.json"])
    for entry in entries:
        if entry["status"] == "ok":
            image = Image.open(io.BytesIO(archive.read(entry["output"])))
            assert image.format == "WEBP" and image.mode == "RGBA" and image.width == entry["width"] <= 300
            assert entry["size"] == archive.getinfo(entry["output"]).file_size
    assert len(calls) == 10  # the broken file reached the engine and failed there, alone

    r = client.post(PATH, data=parts(photos))  # 10 more would make 20 > 15: refused before any processing
    assert_error(r, 429, "rate_limited")
    assert len(calls) == 10 and "Retry-After" in r.headers

    r = client.post(PATH, data=parts([photos[0], photos[0], photos[1], photos[2], photos[3]]))  # the refused one cost 0
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "0"
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    stem = photos[0][0].rsplit(".", 1)[0]
    assert {f"{stem}-no-bg.png", f"{stem}-2-no-bg.png"} <= set(archive.namelist())  # same name twice: unique
    assert len(calls) == 15
    assert_error(client.post(PATH, data=parts(photos[:1])), 429)


def test_the_zip_streams_as_results_complete(make_app, photos):
    app = make_app()
    calls = spy(app)
    r = app.test_client().post(PATH, data=parts(photos[:3]), buffered=False)
    assert r.is_streamed
    chunks = (chunk for chunk in r.response if chunk)
    first = next(chunks)
    assert first.startswith(b"PK\x03\x04") and len(calls) == 1  # the first result left before the second began
    rest = b"".join(chunks)
    r.close()
    assert len(calls) == 3
    assert len(zipfile.ZipFile(io.BytesIO(first + rest)).namelist()) == 4


def test_files_left_at_the_deadline_get_an_error_entry(make_app, photos):
    app = make_app(batch_deadline_s=0.01)
    r = app.test_client().post(PATH, data=parts(photos[:3]))
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(r.data)).read("manifest.json"))
    assert [e["status"] for e in manifest["files"]] == ["ok", "error", "error"]
    assert manifest["files"][2]["error"]["code"] == "batch_deadline_exceeded"


def test_bad_batches_are_json_errors_before_streaming(make_app, photos):
    app = make_app(batch_max_files=3, max_content_length=100_000)
    calls = spy(app)
    client = app.test_client()
    small = [(f"{i}.jpg", b"\xff\xd8\xff" + b"x" * 100) for i in range(4)]
    assert_error(client.post(PATH, data=parts(small)), 400, "invalid_parameter", "at most 3")
    assert_error(client.post(PATH, data={"format": "png"}), 400, mention="'file'")
    assert_error(client.post(PATH, data=parts(small[:2], quality="500")), 400, mention="'quality'")
    assert_error(client.post(PATH, json={"image": "x"}), 400, mention="'file'")
    big = b"x" * 100_001  # MAX_CONTENT_LENGTH bounds the whole body, from its declared length
    assert_error(client.post(PATH, data=big, content_type="multipart/form-data; boundary=zzz"), 413)
    assert calls == []
