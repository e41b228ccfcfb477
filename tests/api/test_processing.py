"""The three processing endpoints with real photos: outputs, options, result JSON and headers."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from tests.conftest import DATA, alpha_of, decode_output, encode_image


def upload(data: bytes, name: str = "photo.jpg", **fields):
    return {"file": (io.BytesIO(data), name), **{k: str(v) for k, v in fields.items()}}


def test_remove_background_download(client, photo_bytes):
    r = client.post("/remove-background", data=upload(photo_bytes, "My Holiday/car 1.JPG"))
    assert r.status_code == 200 and r.mimetype == "image/png"
    assert r.headers["Content-Disposition"] == 'attachment; filename="car_1-no-bg.png"'
    assert r.headers["X-Optimized-Size"] == str(len(r.data))
    assert r.headers["X-Original-Size"] == str(len(photo_bytes))
    assert r.headers["X-Optimization-Used"] == "false"
    image = decode_output(r.data)
    assert (r.headers["X-Image-Width"], r.headers["X-Image-Height"]) == tuple(map(str, image.size))
    assert int(r.headers["X-Processing-Time-Ms"]) > 0
    assert (alpha_of(r.data) == 0).mean() > 0.3
    assert len(r.headers["X-Request-ID"]) >= 8
    assert r.headers["X-RateLimit-Limit"] == "10" and r.headers["X-RateLimit-Remaining"] == "9"


def test_unsafe_filenames_are_sanitised(client, photo_bytes):
    r = client.post("/remove-background", data=upload(photo_bytes, "../../etc/pass wd;.jpg", format="webp"))
    assert r.headers["Content-Disposition"] == 'attachment; filename="pass_wd-no-bg.webp"'
    r = client.post("/remove-background", data=upload(photo_bytes, "..."))
    assert r.headers["Content-Disposition"] == 'attachment; filename="image-no-bg.png"'


def test_preview_json(client, photo_bytes):
    r = client.post("/remove-background-preview", data=upload(photo_bytes, preset="mobile"))
    assert r.status_code == 200
    body = r.get_json()
    image_bytes = base64.b64decode(body["image"])
    assert body["success"] is True and body["mimetype"] == "image/webp" and body["size"] == len(image_bytes)
    assert decode_output(image_bytes).size == (body["width"], body["height"])
    opt = body["optimization"]
    assert (opt["format"], opt["quality"], opt["preset"]) == ("WEBP", 70, "mobile")
    assert opt["dimensions"] == f"{body['width']}x{body['height']}"
    assert opt["original_size"] == len(photo_bytes) and opt["optimized_size"] == len(image_bytes)
    assert opt["compression_ratio"] == f"{round(100 * (1 - len(image_bytes) / len(photo_bytes)))}%"
    assert body["processing_time_ms"] >= 0 and r.headers["X-Optimization-Used"] == "true"


def test_base64_plain_and_data_url(client, photo_bytes):
    encoded = base64.b64encode(photo_bytes).decode()
    for image in (encoded, f"data:image/jpeg;base64,{encoded}"):
        r = client.post(
            "/remove-background-base64",
            json={"image": image, "format": "jpeg", "quality": 60, "max_width": 240, "trim": True, "bg_color": "#123"},
        )
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        out = decode_output(base64.b64decode(body["image"]))
        assert out.format == "JPEG" and out.width <= 240 and body["mimetype"] == "image/jpeg"


def test_options_reach_the_output_through_multipart(client, photo_bytes):
    r = client.post("/remove-background-preview", data=upload(photo_bytes, mask_only="yes", format="PNG"))
    assert decode_output(base64.b64decode(r.get_json()["image"])).mode == "L"
    r = client.post("/remove-background-preview", data=upload(photo_bytes, bg_color="00ff00", refine="none"))
    rgb = np.asarray(decode_output(base64.b64decode(r.get_json()["image"])).convert("RGB"))
    assert tuple(rgb[1, 1]) == (0, 255, 0)


def preview_rgba(client, data: bytes, name: str) -> np.ndarray:
    r = client.post("/remove-background-preview", data=upload(data, name))
    assert r.status_code == 200, r.get_json()
    return np.asarray(decode_output(base64.b64decode(r.get_json()["image"])).convert("RGBA"))


def test_every_input_format(client, photo_bytes):
    """The same photo in each format: the same cut-out, and opaque pixels exactly as that file decodes."""
    reference = preview_rgba(client, photo_bytes, "x.jpg")
    img = Image.open(io.BytesIO(photo_bytes))
    for fmt in ("PNG", "WEBP", "BMP", "TIFF", "GIF"):
        buf = io.BytesIO()
        img.save(buf, fmt)
        out = preview_rgba(client, buf.getvalue(), f"x.{fmt.lower()}")
        if fmt in ("PNG", "BMP", "TIFF"):  # lossless copies of the JPEG's pixels: the very same result
            assert np.array_equal(out, reference), fmt
        subject, expected = out[:, :, 3] >= 128, reference[:, :, 3] >= 128
        assert (subject & expected).sum() / (subject | expected).sum() > 0.98, fmt  # measured >= 0.997
        opaque = out[:, :, 3] == 255
        source = np.asarray(Image.open(buf).convert("RGB"))
        assert opaque.mean() > 0.1 and np.array_equal(out[opaque][:, :3], source[opaque]), fmt


def test_name_and_declared_type_do_not_matter_only_content(client, photo_bytes):
    named_right = client.post("/remove-background", data=upload(photo_bytes, "car.jpg"))
    disguised = client.post("/remove-background", data={"file": (io.BytesIO(photo_bytes), "car.gif", "image/gif")})
    assert disguised.status_code == 200 and disguised.data == named_right.data
    text = client.post("/remove-background", data={"file": (io.BytesIO(b"hello " * 100), "x.png", "image/png")})
    assert text.status_code == 415 and text.get_json()["code"] == "unsupported_format"


def spec_presets() -> dict[str, dict[str, object]]:
    """The preset table of SPEC.md §3.4: name, format, quality, max size ("original": none)."""
    text = (DATA.parent / "SPEC.md").read_text()
    section = text[text.index("### 3.4 Presets") : text.index("### 3.5")]
    rows = re.findall(
        r"^\| `(\w+)` \| (\w+) \| (\d+) \| (\d+)×(\d+)|^\| `(\w+)` \| (\w+) \| (\d+) \| original", section, re.M
    )
    table = {}
    for name, fmt, quality, width, height, name2, fmt2, quality2 in rows:
        table[name or name2] = {
            "format": fmt or fmt2,
            "quality": int(quality or quality2),
            "max_width": int(width) if width else None,
            "max_height": int(height) if height else None,
        }
    return table


def test_presets_endpoint_serves_the_spec_table(client):
    presets = client.get("/api/presets").get_json()
    spec = spec_presets()
    assert len(spec) == 8
    assert {name: {k: v for k, v in p.items() if k != "description"} for name, p in presets.items()} == spec
    # the spec gives no descriptions: each preset has its own, non-empty one
    descriptions = [p["description"] for p in presets.values()]
    assert all(isinstance(d, str) and d.strip() for d in descriptions) and len(set(descriptions)) == len(spec)


def test_index_page(client):
    r = client.get("/")
    assert r.status_code == 200 and b'action="/remove-background"' in r.data and b'name="file"' in r.data


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
@pytest.mark.parametrize("extra", [{}, {"trim": "true"}, {"mask_only": "true"}])
@pytest.mark.parametrize("bg", ["", "#0000ff", "#0000ff80", "#0000ff00"])
def test_a_flat_one_coloured_photo_never_fails(client, fmt, extra, bg):
    # a flat grey image gives a matte with no soft pixel; with a translucent bg_color this was a 500
    data = encode_image(Image.new("RGB", (400, 300), (128, 128, 128)), "JPEG")
    form = {"file": (io.BytesIO(data), "grey.jpg"), "format": fmt, "bg_color": bg, **extra}
    response = client.post("/remove-background", data=form, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    image = Image.open(io.BytesIO(response.data))
    assert image.format == fmt and image.width > 0 and image.height > 0


def test_each_answer_says_how_sure_the_cut_out_is(client, photo_bytes, data_dir):
    """The header and the JSON field carry the same certainty; a clear photo is sure, a hard one less so."""
    sure = client.post("/remove-background-preview", data={"file": (io.BytesIO(photo_bytes), "car.jpg")})
    assert sure.status_code == 200
    assert float(sure.headers["X-Cutout-Certainty"]) == pytest.approx(sure.json["certainty"], abs=1e-4)
    assert sure.json["certainty"] > 0.9
    hard = (data_dir / "alphamatting-train-lowres" / "images" / "GT27.png").read_bytes()  # u2netp doubts it
    unsure = client.post("/remove-background", data={"file": (io.BytesIO(hard), "toy.png")})
    assert unsure.status_code == 200 and float(unsure.headers["X-Cutout-Certainty"]) < sure.json["certainty"]
