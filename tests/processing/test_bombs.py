"""Decoder bombs: small files whose structure makes Pillow or libjpeg work for seconds or fill memory.

Each attack is built at full size (a 16 MiB body where that is the point) and must be refused, or
decoded, in well under a second. The figures in the docstrings were measured on a770b02, before the
checks in processing/structure.py.
"""

from __future__ import annotations

import re
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from bgremover.errors import ImageTooComplex, TooManyScans, TooManySegments, UndecodableImage
from bgremover.processing import structure
from bgremover.processing.decode import Limits, decode, sniff
from tests.conftest import encode_image

LIMITS = Limits()
BODY = 16 * 1024 * 1024  # the default MAX_CONTENT_LENGTH: what one request may carry
FAST = 0.5  # seconds: a refusal is a header walk, far below one real decode


def timed(fn, *args):
    """(result, seconds) of one call."""
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def refusal(kind: type[Exception], data: bytes) -> tuple[Exception, float]:
    """(the error, seconds) of decoding bytes that must be refused with `kind`."""
    started = time.perf_counter()
    with pytest.raises(kind) as err:
        decode(data, LIMITS)
    return err.value, time.perf_counter() - started


def gradient(size: int) -> Image.Image:
    x = np.linspace(0, 255, size, dtype=np.uint8)
    planes = [np.tile(x, (size, 1)), np.tile(x[:, None], (1, size)), np.full((size, size), 90, np.uint8)]
    return Image.fromarray(np.dstack(planes))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def after_ihdr(png: bytes, extra: bytes) -> bytes:
    return png[:33] + extra + png[33:]  # signature (8) + IHDR chunk (25)


# JPEG ---------------------------------------------------------------------------------------------


def repeat_scan(jpeg: bytes, index: int, times: int) -> bytes:
    """The same file with one scan (SOS header and its data) repeated in place: still legal, each copy decoded."""
    starts = [m.start() for m in re.finditer(rb"\xff\xda", jpeg)]  # FF DA never occurs in entropy-coded data
    start = starts[index]
    end = re.compile(rb"\xff[^\x00\xd0-\xd7]").search(jpeg, start + 2).start()  # the next marker
    return jpeg[:end] + jpeg[start:end] * times + jpeg[end:]


@pytest.fixture(scope="module")
def progressive_4096() -> bytes:
    """A legal progressive 4096x4096 JPEG: libjpeg's 10-scan script, each scan a few bytes."""
    return encode_image(Image.new("RGB", (4096, 4096), (120, 160, 200)), "JPEG", progressive=True)


def test_progressive_scan_bomb_is_refused_before_decoding(progressive_4096):
    """The issue's 165 KB file: on a770b02 this test ran 118 s (Pillow decoding 2,010 scans; 2 shared cores)."""
    bomb = repeat_scan(progressive_4096, -1, 2000)
    assert len(bomb) < 200_000
    error, elapsed = refusal(TooManyScans, bomb)
    assert elapsed < FAST
    assert (error.status, error.code) == (422, "too_many_scans")
    assert str(structure.MAX_JPEG_SCANS) in error.details


def test_progressive_jpeg_up_to_the_scan_bound_still_decodes():
    jpeg = encode_image(gradient(256), "JPEG", progressive=True)
    scans = jpeg.count(b"\xff\xda")
    assert scans == 10
    expected = decode(jpeg, LIMITS).rgb
    at_bound = repeat_scan(jpeg, 1, structure.MAX_JPEG_SCANS - scans)  # a first AC scan sets the same values
    assert np.array_equal(decode(at_bound, LIMITS).rgb, expected)
    refusal(TooManyScans, repeat_scan(jpeg, 1, structure.MAX_JPEG_SCANS - scans + 1))


@pytest.mark.parametrize("marker", [b"\xfe", b"\xe1"], ids=["COM", "APP1"])
def test_jpeg_marker_flood_is_refused(marker):
    """4 million empty COM (APP1) segments: 6.6 s and 370 MB (14.8 s and 620 MB) on a770b02."""
    jpeg = encode_image(gradient(100), "JPEG")
    flood = jpeg[:2] + (b"\xff" + marker + b"\x00\x02") * ((BODY - len(jpeg)) // 4) + jpeg[2:]
    error, elapsed = refusal(TooManySegments, flood)
    assert elapsed < FAST and error.code == "too_many_segments"


def test_real_files_pass_the_structure_walks(data_dir):
    """No false alarm on the evaluation set (157 JPEGs, one of them progressive; 267 PNGs)."""
    seen = set()
    for path in sorted(data_dir.rglob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            data = path.read_bytes()
            structure.check_container(sniff(data), data)
            seen.add(sniff(data))
    assert seen == {"JPEG", "PNG"}


# PNG ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [png_chunk(b"tEXt", b"k\x00v"), png_chunk(b"IDAT", b"")], ids=["tEXt", "IDAT"])
def test_png_chunk_flood_is_refused(chunk):
    """1.4 million tiny chunks in 16 MiB: Pillow read them for 3.6 s (2.0 s for empty IDATs) on a770b02."""
    png = encode_image(gradient(100), "PNG")
    flood = after_ihdr(png, chunk * ((BODY - len(png)) // len(chunk)))
    error, elapsed = refusal(TooManySegments, flood)
    assert elapsed < FAST and "chunks" in error.details


def test_png_text_bomb_is_bounded():
    """Twenty 1 MiB zTXt chunks in 21 KB: Pillow's default (64 MiB of text) kept them all; now 16 MiB."""
    text = zlib.compress(b"a" * (1 << 20), 9)
    bomb = after_ihdr(
        encode_image(gradient(100), "PNG"), b"".join(png_chunk(b"zTXt", b"k%d\x00\x00" % i + text) for i in range(20))
    )
    assert len(bomb) < 30_000
    error, elapsed = refusal(UndecodableImage, bomb)
    assert elapsed < FAST and error.status == 422


def test_png_with_many_real_idat_chunks_decodes():
    """A PNG written in 1 KiB IDAT chunks (smaller than any common encoder) keeps its pixels."""
    png = encode_image(gradient(512), "PNG", compress_level=0)
    start, end = png.index(b"IDAT") - 4, png.index(b"IEND") - 4
    stream = b""
    pos = start
    while pos < end:
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        stream += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    split = b"".join(png_chunk(b"IDAT", stream[i : i + 1024]) for i in range(0, len(stream), 1024))
    assert split.count(b"IDAT") > 700
    assert np.array_equal(decode(png[:start] + split + png[end:], LIMITS).rgb, np.asarray(gradient(512)))


# GIF ----------------------------------------------------------------------------------------------


def gif_parts() -> tuple[bytes, bytes]:
    """(header with colour table, one 100x100 image block) of a one-frame GIF."""
    gif = encode_image(Image.new("P", (100, 100), 1), "GIF")
    image = gif.index(b"\x2c")
    return gif[:image], gif[image:-1]


def test_gif_with_thousands_of_frames_decodes_only_the_first():
    """Already safe on a770b02: Pillow reads frames lazily (96,000 frames: first frame in 1 ms)."""
    _, frame = gif_parts()
    red = encode_image(Image.new("RGB", (100, 100), (255, 0, 0)), "GIF")
    first = red[red.index(b"\x2c") : -1]
    gif = red[: red.index(b"\x2c")] + first + frame * ((BODY - len(red)) // len(frame)) + b";"
    assert gif.count(b"\x2c\x00\x00\x00\x00") > 90_000
    decoded, elapsed = timed(decode, gif, LIMITS)
    assert elapsed < FAST and tuple(decoded.rgb[50, 50]) == (255, 0, 0)


@pytest.mark.parametrize(
    "extension", [b"\x21\xfe\x01a\x00", b"\x21\xfe" + b"\x01a" * 100_000 + b"\x00"], ids=["comments", "sub-blocks"]
)
def test_gif_extension_flood_before_the_image_is_refused(extension):
    """3.3 million comments (8 million comment sub-blocks) before the image: 6.2 s, 650 MB (7 s, 780 MB)."""
    head, frame = gif_parts()
    gif = head + extension * ((BODY - len(head) - len(frame)) // len(extension)) + frame + b";"
    error, elapsed = refusal(TooManySegments, gif)
    assert elapsed < FAST and "GIF" in error.details


# TIFF ---------------------------------------------------------------------------------------------


def tiff(width: int, height: int, entries: list[tuple[int, int, int, int]], tail: bytes) -> bytes:
    """A little-endian TIFF whose one directory holds `entries` (tag, type, count, value) and then `tail`."""
    directory = struct.pack("<H", len(entries) + 2)
    for tag, kind, count, value in [(256, 4, 1, width), (257, 4, 1, height), *entries]:
        inline_short = kind == 3 and count == 1  # a SHORT sits in the first half of the value field
        field = struct.pack("<HH", value, 0) if inline_short else struct.pack("<I", value)
        directory += struct.pack("<HHI", tag, kind, count) + field
    return b"II*\x00" + struct.pack("<I", 8) + directory + b"\x00\x00\x00\x00" + tail


def tiff_tail_offset(entries: int) -> int:
    return 8 + 2 + 12 * (entries + 2) + 4


def test_tiff_strip_flood_is_refused():
    """2 million strip offsets for a 100x100 page: Pillow built a tile of each, 24.6 s and 670 MB."""
    n = (BODY - 1000) // 8
    table = tiff_tail_offset(6)
    pixels = table + 8 * n
    entries = [(258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, n, table), (278, 3, 1, 1)]
    entries.append((279, 4, n, table + 4 * n))
    flood = tiff(100, 100, entries, struct.pack("<I", pixels) * n + struct.pack("<I", 100) * n + bytes(10_000))
    error, elapsed = refusal(TooManySegments, flood)
    assert elapsed < FAST and "2,097,027 strips" in error.details


def test_tiff_in_small_tiles_keeps_its_pixels():
    """The smallest legal tiles (16x16) are accepted: 4,096 of them for 1024x1024."""
    side, tile = 1024, 16
    n = (side // tile) ** 2
    table = tiff_tail_offset(8)
    pixels = table + 8 * n
    image = np.random.default_rng(0).integers(0, 256, (side, side), dtype=np.uint8)
    tiles = [image[y : y + tile, x : x + tile].tobytes() for y in range(0, side, tile) for x in range(0, side, tile)]
    entries = [(258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (277, 3, 1, 1), (322, 3, 1, tile), (323, 3, 1, tile)]
    entries += [(324, 4, n, table), (325, 4, n, table + 4 * n)]
    offsets = b"".join(struct.pack("<I", pixels + i * tile * tile) for i in range(n))
    data = tiff(side, side, entries, offsets + struct.pack("<I", tile * tile) * n + b"".join(tiles))
    assert np.array_equal(decode(data, LIMITS).rgb[:, :, 0], image)


def test_tiff_page_chain_is_not_walked():
    """Already safe on a770b02: Pillow reads pages lazily (a chain of 100,000 directories: 10 ms)."""
    first = bytearray(encode_image(Image.new("L", (100, 100), 7), "TIFF"))
    (start,) = struct.unpack("<I", first[4:8])
    (count,) = struct.unpack("<H", first[start : start + 2])
    link = start + 2 + 12 * count
    size = 2 + 12 + 4
    n = 100_000
    first[link : link + 4] = struct.pack("<I", len(first))
    chain = b"".join(
        struct.pack("<HHHII", 1, 256, 4, 1, 100) + struct.pack("<I", len(first) + (i + 1) * size if i + 1 < n else 0)
        for i in range(n)
    )
    decoded, elapsed = timed(decode, bytes(first) + chain, LIMITS)
    assert elapsed < FAST and decoded.rgb[0, 0, 0] == 7


def jpeg_in_tiff(jpeg: bytes, side: int) -> bytes:
    """A TIFF (compression 7, YCbCr 4:2:0) whose one strip is the given JPEG stream."""
    entries = [
        (258, 3, 3, tiff_tail_offset(9)),
        (259, 3, 1, 7),
        (262, 3, 1, 6),
        (273, 4, 1, tiff_tail_offset(9) + 6),
        (277, 3, 1, 3),
        (278, 4, 1, side),
        (279, 4, 1, len(jpeg)),
        (284, 3, 1, 1),
        (530, 3, 2, 2 | 2 << 16),
    ]
    return tiff(side, side, entries, struct.pack("<HHH", 8, 8, 8) + jpeg)


def test_progressive_scan_bomb_inside_tiff_is_stopped_by_libtiff():
    """Already safe on a770b02: libtiff stops JPEG data at 100 scans (LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER)."""
    jpeg = encode_image(gradient(1024), "JPEG", progressive=True)
    assert decode(jpeg_in_tiff(jpeg, 1024), LIMITS).rgb.shape == (1024, 1024, 3)  # the carrier is legal
    error, elapsed = refusal(UndecodableImage, jpeg_in_tiff(repeat_scan(jpeg, -1, 2000), 1024))
    assert elapsed < 2 * FAST and error.code == "invalid_image"


# BMP ----------------------------------------------------------------------------------------------


def bmp_rle8(width: int, height: int, rle: bytes) -> bytes:
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rle), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(rle), 0, 0, offset) + info + palette + rle


def test_bmp_rle_flood_is_refused():
    """16 MiB of RLE8 pairs: Pillow's pure-Python RLE decoder ran 13.4 s on a770b02."""
    bomb = bmp_rle8(4096, 4096, b"\x01\x07" * ((BODY - 2000) // 2))
    error, elapsed = refusal(ImageTooComplex, bomb)
    assert elapsed < FAST and error.code == "image_too_complex"


def test_small_rle_bmp_keeps_its_pixels():
    rows = [bytes((100, 10 + y)) + b"\x00\x00" for y in range(60)]  # one run of 100 pixels per row
    decoded = decode(bmp_rle8(100, 60, b"".join(rows) + b"\x00\x01"), LIMITS)
    assert decoded.rgb[-1, 0, 0] == 10 and decoded.rgb[0, 0, 0] == 69  # rows are stored bottom-up


def test_walks_are_cheap_on_a_full_size_real_jpeg():
    """The JPEG walk searches entropy-coded data in C: a 16 MiB file costs milliseconds."""
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 256, (2300, 2300, 3), dtype=np.uint8))
    jpeg = encode_image(noise, "JPEG", quality=100)
    assert len(jpeg) > 8 * 1024 * 1024
    _, elapsed = timed(structure.check_container, "JPEG", jpeg)
    assert elapsed < 0.1
