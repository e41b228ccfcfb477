"""Decoding: sniffing by content, header checks before pixels, every colour mode, EXIF orientation."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bgremover.errors import ImageTooLarge, ImageTooSmall, UndecodableImage, UnsupportedFormat
from bgremover.processing.decode import Limits, decode, draft_size, sniff
from tests.conftest import encode_image

LIMITS = Limits()


def gradient(mode: str = "RGB", size=(120, 80)) -> Image.Image:
    """A small image with distinct content in each corner."""
    x = np.linspace(0, 255, size[0], dtype=np.uint8)
    y = np.linspace(0, 255, size[1], dtype=np.uint8)
    rgb = np.dstack([np.tile(x, (size[1], 1)), np.tile(y[:, None], (1, size[0])), np.full(size[::-1], 90, np.uint8)])
    return Image.fromarray(rgb, "RGB").convert(mode) if mode != "RGB" else Image.fromarray(rgb, "RGB")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header(width: int, height: int) -> bytes:
    """A small PNG file whose header claims the given size (its pixel data is a few bytes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_each_allowed_format_decodes_by_content(fmt):
    data = encode_image(gradient(), fmt)
    assert sniff(data) == fmt
    decoded = decode(data, LIMITS)
    assert decoded.format == fmt
    assert decoded.rgb.shape == (80, 120, 3) and decoded.rgb.dtype == np.uint8


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world, not an image", b"%PDF-1.7\n...", b"\x00" * 100, b"<svg xmlns='http://www.w3.org/2000/svg'/>"],
)
def test_non_images_are_unsupported(data):
    with pytest.raises(UnsupportedFormat) as err:
        decode(data, LIMITS)
    assert err.value.status == 415


def test_truncated_jpeg_is_undecodable():
    data = encode_image(gradient(size=(400, 300)), "JPEG", quality=95)
    with pytest.raises(UndecodableImage) as err:
        decode(data[: len(data) // 2], LIMITS)
    assert err.value.status == 422


def test_corrupt_header_is_undecodable():
    with pytest.raises(UndecodableImage):
        decode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, LIMITS)


def test_huge_header_is_refused_before_decoding():
    with pytest.raises(ImageTooLarge) as err:
        decode(png_header(100_000, 100_000), LIMITS)
    assert err.value.status == 422 and "100000x100000" in err.value.details


def test_too_large_and_too_small_sides():
    with pytest.raises(ImageTooLarge):
        decode(png_header(5000, 100), LIMITS)
    with pytest.raises(ImageTooLarge):
        decode(png_header(3000, 3000), Limits(max_pixels=8_000_000))
    with pytest.raises(ImageTooSmall) as err:
        decode(encode_image(gradient(size=(40, 200)), "PNG"), LIMITS)
    assert err.value.code == "image_too_small"


def test_palette_with_transparency_becomes_alpha():
    img = gradient().quantize(16)
    img.info["transparency"] = 0
    decoded = decode(encode_image(img, "PNG", transparency=0), LIMITS)
    assert decoded.alpha is not None
    assert (decoded.alpha == 0).any() and (decoded.alpha == 255).any()


@pytest.mark.parametrize("mode,fmt", [("L", "PNG"), ("RGBA", "PNG"), ("P", "PNG"), ("1", "TIFF"), ("CMYK", "TIFF")])
def test_lossless_colour_modes_keep_their_values(mode, fmt):
    img = gradient(mode)
    decoded = decode(encode_image(img, fmt), LIMITS)
    assert np.array_equal(decoded.rgb, np.asarray(img.convert("RGB")))
    assert decoded.alpha is None  # none of them has a transparent pixel
    if mode in ("L", "1"):
        assert np.array_equal(decoded.rgb[:, :, 0], np.asarray(img.convert("L")))
    if mode == "1":
        assert set(np.unique(decoded.rgb)) == {0, 255}


def test_grey_with_alpha_keeps_grey_and_alpha():
    img = gradient("L")
    alpha = np.tile(np.linspace(0, 255, 120).astype(np.uint8), (80, 1))
    img.putalpha(Image.fromarray(alpha))
    decoded = decode(encode_image(img, "PNG"), LIMITS)
    assert np.array_equal(decoded.alpha, alpha)
    grey = np.asarray(img.getchannel("L"))
    assert all(np.array_equal(decoded.rgb[:, :, c], grey) for c in range(3))


def test_cmyk_jpeg_comes_out_as_its_rgb():
    img = gradient("CMYK")
    decoded = decode(encode_image(img, "JPEG", quality=95), LIMITS)
    diff = np.abs(decoded.rgb.astype(int) - np.asarray(img.convert("RGB")).astype(int))
    assert diff.mean() < 1 and diff.max() <= 4  # JPEG loss only (measured: max 1); inverted inks: mean 111


def test_rgba_keeps_its_alpha_and_opaque_rgba_drops_it():
    img = gradient("RGBA")
    img.putalpha(Image.linear_gradient("L").resize(img.size))
    assert decode(encode_image(img, "PNG"), LIMITS).alpha is not None
    assert decode(encode_image(gradient("RGBA"), "PNG"), LIMITS).alpha is None


def test_16_bit_grayscale_is_scaled_not_clipped():
    arr = np.tile(np.linspace(0, 65535, 120).astype(np.uint16), (80, 1))
    img = Image.fromarray(arr)
    decoded = decode(encode_image(img, "PNG"), LIMITS)
    row = decoded.rgb[0, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253 and (np.diff(row) >= 0).all()


def test_exif_orientation_is_applied():
    img = gradient(size=(120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    decoded = decode(encode_image(img, "JPEG", exif=exif.tobytes()), LIMITS)
    assert decoded.rgb.shape == (120, 80, 3)
    # after a clockwise turn the original top-left (dark red channel) sits at the top-right
    assert decoded.rgb[0, -1, 0] < 40 and decoded.rgb[-1, 0, 0] > 200


def test_gif_first_frame():
    frames = [Image.new("RGB", (100, 100), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode_image(frames[0], "GIF", save_all=True, append_images=frames[1:])
    decoded = decode(data, LIMITS)
    assert tuple(decoded.rgb[50, 50]) == (255, 0, 0)


def test_jpeg_draft_decodes_smaller_but_still_fills_the_box():
    data = encode_image(gradient(size=(2000, 1000)), "JPEG")
    decoded = decode(data, LIMITS, fit=(400, 400))
    h, w = decoded.rgb.shape[:2]
    assert w < 2000 and w >= 400 and h >= 200
    assert draft_size((2000, 1000), (400, 400)) == (400, 200)
    assert draft_size((1000, 2000), (400, 100)) == (100, 200)  # EXIF may turn it: both ways fit
