"""The engine end to end with the real model on real photos: every option reaches the output."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bgremover.errors import InvalidOption, ModelNotReady
from bgremover.processing import parse_options
from tests.conftest import alpha_of, decode_output, encode_image


def run(engine, data: bytes, **raw):
    return engine.process(data, parse_options(raw))


def test_default_is_a_transparent_png_with_a_subject(engine, photo_bytes):
    result = run(engine, photo_bytes)
    image = decode_output(result.data)
    assert image.format == "PNG" and image.mode == "RGBA"
    assert (result.width, result.height) == image.size == Image.open(io.BytesIO(photo_bytes)).size
    alpha = alpha_of(result.data)
    assert (alpha == 0).mean() > 0.3 and (alpha == 255).mean() > 0.1  # background gone, subject kept
    assert set(result.timings_ms) == {"decode", "segment", "refine", "resize", "compose", "encode"}


@pytest.mark.parametrize("options", [{}, {"bg_color": "#ff000000"}])
def test_fully_transparent_pixels_carry_no_colour(engine, photo_bytes, options):
    rgba = np.asarray(decode_output(run(engine, photo_bytes, **options).data))
    clear = rgba[:, :, 3] == 0
    assert clear.mean() > 0.3  # the car photo's background
    assert (rgba[clear][:, :3] == 0).all()


def test_translucent_background_colour_fills_the_background(engine, photo_bytes):
    """With #ff000040 no pixel is fully transparent: the background is that red at alpha 0x40."""
    rgba = np.asarray(decode_output(run(engine, photo_bytes, bg_color="#ff000040").data))
    assert rgba[:, :, 3].min() == 0x40
    background = rgba[:, :, 3] == 0x40
    assert background.mean() > 0.3
    colours = rgba[background][:, :3].astype(int)
    assert (colours == (255, 0, 0)).all(axis=1).mean() > 0.999  # a few faint-matte pixels round to 0x40 too
    assert np.abs(colours - (255, 0, 0)).max() <= 8
    assert (rgba[:, :, 3] == 255).mean() > 0.1  # the subject stays opaque


@pytest.mark.parametrize("fmt,mode", [("JPEG", "RGB"), ("WEBP", "RGBA"), ("PNG", "RGBA")])
def test_formats(engine, photo_bytes, fmt, mode):
    result = run(engine, photo_bytes, format=fmt)
    image = decode_output(result.data)
    assert image.format == fmt and image.mode == mode and result.mimetype == f"image/{fmt.lower()}"


def test_jpeg_background_is_white_and_progressive(engine, photo_bytes):
    result = run(engine, photo_bytes, format="jpg")
    image = decode_output(result.data)
    assert image.info.get("progressive") or image.info.get("progression")
    assert np.asarray(image.convert("RGB"))[2, 2].min() > 245  # the car photo's corner is background


def test_quality_changes_size(engine, photo_bytes):
    small = run(engine, photo_bytes, format="WEBP", quality=20).size
    large = run(engine, photo_bytes, format="WEBP", quality=95).size
    assert small < large


def test_png_below_100_is_a_palette_with_alpha(engine, photo_bytes):
    lossless = run(engine, photo_bytes)
    lossy = run(engine, photo_bytes, quality=80)
    image = decode_output(lossy.data)
    assert image.mode == "P" and "transparency" in image.info
    assert lossy.size < lossless.size


def test_bg_color_fills_the_background(engine, photo_bytes):
    result = run(engine, photo_bytes, bg_color="#00ff00")
    rgb = np.asarray(decode_output(result.data).convert("RGB"))
    assert decode_output(result.data).mode == "RGB"
    assert tuple(rgb[2, 2]) == (0, 255, 0)


def test_translucent_bg_color_keeps_alpha(engine, photo_bytes):
    rgba = np.asarray(decode_output(run(engine, photo_bytes, bg_color="#ff000080").data))
    assert tuple(rgba[2, 2]) == (255, 0, 0, 128)


def test_translucent_bg_color_in_jpeg_is_seen_over_white(engine, photo_bytes):
    jpeg = np.asarray(decode_output(run(engine, photo_bytes, bg_color="#ff000080", format="jpeg").data))
    png = np.asarray(decode_output(run(engine, photo_bytes, bg_color="#ff000080").data)).astype(float)
    over_white = png[:, :, :3] * png[:, :, 3:] / 255 + 255 * (1 - png[:, :, 3:] / 255)
    assert np.abs(jpeg[2, 2].astype(int) - (255, 127, 127)).max() <= 4
    assert np.abs(jpeg - over_white).mean() < 3  # the same picture as the PNG laid on white


@pytest.mark.parametrize("padding", [0, 25])
def test_trim_crops_to_the_subject_plus_padding(engine, photo_bytes, padding):
    full = alpha_of(run(engine, photo_bytes).data)
    rows, cols = np.flatnonzero((full > 8).any(1)), np.flatnonzero((full > 8).any(0))
    expected_w = min(full.shape[1], cols[-1] + 1 + padding) - max(0, cols[0] - padding)
    expected_h = min(full.shape[0], rows[-1] + 1 + padding) - max(0, rows[0] - padding)
    result = run(engine, photo_bytes, trim=True, trim_padding=padding)
    assert (result.width, result.height) == (expected_w, expected_h)
    alpha = alpha_of(result.data)
    if padding:
        assert alpha[: padding // 2].max() <= 8 and alpha[:, : padding // 2].max() <= 8


def test_downscale_only_keeps_aspect_and_never_upscales(engine, photo_bytes):
    w, h = Image.open(io.BytesIO(photo_bytes)).size
    result = run(engine, photo_bytes, max_width=200)
    assert result.width == 200 and abs(result.height - round(h * 200 / w)) <= 1
    result = run(engine, photo_bytes, max_width=4000, max_height=4000)
    assert (result.width, result.height) == (w, h)


@pytest.mark.parametrize("preset", ["web", "thumbnail", "print"])
def test_presets_shape_the_output(engine, photo_bytes, preset):
    from bgremover.processing.presets import PRESETS

    p = PRESETS[preset]
    result = run(engine, photo_bytes, preset=preset)
    assert decode_output(result.data).format == p.format
    if p.max_width:
        assert result.width <= p.max_width and result.height <= p.max_height


def test_mask_only_is_grayscale_matching_the_cutout_alpha(engine, photo_bytes):
    mask = decode_output(run(engine, photo_bytes, mask_only=True).data)
    assert mask.mode == "L"
    cutout_alpha = alpha_of(run(engine, photo_bytes).data)
    assert np.abs(np.asarray(mask).astype(int) - cutout_alpha).max() <= 1


@pytest.mark.parametrize("level", ["none", "standard", "high"])
def test_refine_levels_all_produce_a_matte(engine, photo_bytes, level):
    alpha = alpha_of(run(engine, photo_bytes, refine=level, mask_only=False).data)
    assert (alpha == 0).any() and (alpha == 255).any()


def test_refine_levels_differ(engine, photo_bytes):
    none = alpha_of(run(engine, photo_bytes, refine="none").data)
    standard = alpha_of(run(engine, photo_bytes, refine="standard").data)
    assert np.abs(none.astype(int) - standard).mean() > 0.5


def test_no_dark_fringe_edge_pixels_keep_the_subject_colour(engine):
    # A white disc on a black background: semi-transparent edge pixels must stay white, not grey.
    yy, xx = np.mgrid[:400, :400]
    disc = ((yy - 200) ** 2 + (xx - 200) ** 2 < 120**2).astype(np.uint8) * 255
    img = Image.fromarray(np.dstack([disc] * 3)).filter(ImageFilter.GaussianBlur(1.5))  # anti-aliased edge
    rgba = np.asarray(decode_output(run(engine, encode_image(img, "PNG")).data)).astype(int)
    edge = (rgba[:, :, 3] > 20) & (rgba[:, :, 3] < 235)
    assert edge.sum() > 50
    naive_grey = np.asarray(img)[:, :, 0][edge].mean()
    assert naive_grey < 200  # the source really is grey at the edge …
    assert rgba[:, :, :3][edge].mean() > 230  # … but the cut-out's edge keeps the disc's white


def test_input_alpha_is_respected(engine, photo_bytes):
    img = Image.open(io.BytesIO(photo_bytes)).convert("RGBA")
    arr = np.asarray(img).copy()
    arr[:, : arr.shape[1] // 2, 3] = 0  # left half already transparent
    alpha = alpha_of(run(engine, encode_image(Image.fromarray(arr), "PNG")).data)
    assert alpha[:, : arr.shape[1] // 2].max() == 0
    assert alpha[:, arr.shape[1] // 2 :].max() == 255


def test_metadata_is_stripped(engine, photo_bytes):
    img = Image.open(io.BytesIO(photo_bytes))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (1.0, 2.0, 3.0)}  # GPS IFD
    data = encode_image(img, "JPEG", exif=exif.tobytes())
    for fmt in ("PNG", "JPEG", "WEBP"):
        out = run(engine, data, format=fmt).data
        assert b"SecretCam" not in out
        assert not decode_output(out).getexif()


def test_unknown_model_is_a_400_and_unloaded_known_model_a_503(engine, photo_bytes):
    with pytest.raises(InvalidOption):
        run(engine, photo_bytes, model="nope")
    with pytest.raises(ModelNotReady):
        run(engine, photo_bytes, model="silueta")  # known to the catalog, not loaded here


def test_clean_keeps_the_largest_blob_when_all_are_small():
    from bgremover.processing.refine import clean

    mask = np.zeros((320, 320), np.float32)
    mask[10:13, 10:13] = 1.0  # 9 px blobs: each under the speck limit (0.1% of 102400 = 102 px)
    mask[100:103, 100:103] = 1.0
    mask[200:204, 200:204] = 1.0  # 16 px: the largest
    out = clean(mask)
    assert out[201, 201] == 1.0 and out[11, 11] == 0.0 and out[101, 101] == 0.0


def test_a_transparent_cut_out_keeps_no_more_colour_than_its_faint_pixels_show(engine, photo_bytes):
    """refine=none leaves a faint haze: there each colour is rounded to what its alpha can show (compose.py)."""
    rgba = np.asarray(decode_output(run(engine, photo_bytes, refine="none").data))
    faint = (rgba[:, :, 3] > 0) & (rgba[:, :, 3] < 4)
    assert faint.mean() > 0.01
    assert set(np.unique(rgba[faint][:, :3])) <= {0, 128, 255}  # steps of 128 below alpha 4
    assert (rgba[rgba[:, :, 3] == 0] == 0).all()
