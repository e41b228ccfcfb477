"""Bounded fuzzing of the decoder with mutated real images: a result or a typed error, fast, never anything else.

Mutations: bit flips, truncation, inserted bytes, shuffled/duplicated/dropped JPEG markers and PNG
chunks (fixed-size blocks elsewhere), and header dimensions overwritten with edge values (0, the
limits ±1, 2^31 and 2^32-1, which read as negative where the field is signed). Failing examples found
while writing this file are kept below as explicit regression cases.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from bgremover.errors import BgRemoverError
from bgremover.processing.decode import Limits, decode
from tests.conftest import DATA

LIMITS = Limits()
BOUND_S = 3.0  # per input; the largest seed decodes in a few milliseconds
EDGES = [0, 1, 49, 50, 4096, 4097, 65535, 2**31 - 1, 2**31, 2**32 - 1]


@functools.cache
def seeds() -> dict[str, bytes]:
    """Real files from the evaluation set, and one real photo re-encoded in every other accepted format."""
    duts = DATA / "duts-te-150"
    photo = sorted((duts / "images").iterdir())[0]
    files = {
        "jpeg": photo.read_bytes(),
        "jpeg-progressive": (DATA / "rembg-fixtures" / "fixtures" / "anime-girl-1.jpg").read_bytes(),
        "png-gray": sorted((duts / "masks").iterdir())[0].read_bytes(),
    }
    small = Image.open(photo).convert("RGB").resize((120, 90))
    variants = {
        "png-rgba": (small.convert("RGBA"), "PNG", {}),
        "gif": (small, "GIF", {"save_all": True, "append_images": [small.rotate(90)]}),
        "tiff": (small, "TIFF", {"compression": "tiff_lzw"}),
        "tiff-raw": (small, "TIFF", {}),
        "bmp": (small, "BMP", {}),
        "webp": (small, "WEBP", {"quality": 80}),
        "webp-lossless": (small.convert("RGBA"), "WEBP", {"lossless": True}),
    }
    for name, (image, fmt, params) in variants.items():
        buf = io.BytesIO()
        image.save(buf, fmt, **params)
        files[name] = buf.getvalue()
    return files


def segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of JPEG header markers or PNG chunks; 64-byte blocks for other formats."""
    if data.startswith(b"\xff\xd8"):
        spans, pos = [], 2
        while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
            end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
            spans.append((pos, end))
            pos = end
        return spans
    if data.startswith(b"\x89PNG"):
        spans, pos = [], 8
        while pos + 8 <= len(data):
            end = pos + 12 + int.from_bytes(data[pos : pos + 4], "big")
            spans.append((pos, end))
            pos = end
        return spans
    return [(i, min(i + 64, len(data))) for i in range(0, len(data), 64)]


def dimension_fields(data: bytes) -> list[tuple[int, int, str]]:
    """(offset, size, byte order) of the width and height fields in the header."""
    if data.startswith(b"\xff\xd8"):
        sof = re.search(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf]", data)
        return [(sof.start() + 5, 2, "big"), (sof.start() + 7, 2, "big")] if sof else []
    if data.startswith(b"\x89PNG"):
        return [(16, 4, "big"), (20, 4, "big")]
    if data.startswith(b"GIF"):
        image = data.find(b"\x2c", 13)
        return [(6, 2, "little"), (8, 2, "little"), (image + 5, 2, "little"), (image + 7, 2, "little")]
    if data.startswith(b"BM"):
        return [(18, 4, "little"), (22, 4, "little")]
    if data.startswith(b"RIFF"):
        return [(26, 2, "little"), (28, 2, "little"), (21, 4, "little"), (24, 3, "little")]
    if data[:2] in (b"II", b"MM"):
        order = "<" if data[:2] == b"II" else ">"
        fields = []
        try:
            first = struct.unpack_from(order + "I", data, 4)[0]
            for i in range(struct.unpack_from(order + "H", data, first)[0]):
                at = first + 2 + 12 * i
                if struct.unpack_from(order + "H", data, at)[0] in (256, 257, 278):
                    fields.append((at + 8, 4, "little" if order == "<" else "big"))
        except struct.error:
            pass  # a directory the mutations already broke
        return fields
    return []


@st.composite
def mutated(draw) -> bytes:
    """A real file with one to four mutations applied."""
    data = bytearray(seeds()[draw(st.sampled_from(sorted(seeds())))])
    for op in draw(
        st.lists(st.sampled_from(["flip", "truncate", "insert", "shuffle", "dimension"]), min_size=1, max_size=4)
    ):
        if not data:
            break
        if op == "flip":
            for pos in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=16)):
                data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            data = data[: draw(st.integers(0, len(data) - 1))]
        elif op == "insert":
            pos = draw(st.integers(0, len(data)))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "shuffle":
            spans = segments(bytes(data))
            if len(spans) >= 2:
                parts = [bytes(data[a:b]) for a, b in spans]
                i, j = draw(st.integers(0, len(parts) - 1)), draw(st.integers(0, len(parts) - 1))
                how = draw(st.sampled_from(["swap", "duplicate", "drop"]))
                if how == "swap":
                    parts[i], parts[j] = parts[j], parts[i]
                elif how == "duplicate":
                    parts.insert(j, parts[i])
                else:
                    del parts[i]
                data = bytearray(data[: spans[0][0]] + b"".join(parts) + data[spans[-1][1] :])
        else:
            for offset, size, order in dimension_fields(bytes(data)):
                if offset + size <= len(data) and draw(st.booleans()):
                    value = draw(st.sampled_from(EDGES) | st.integers(0, 2 ** (8 * size) - 1)) % 2 ** (8 * size)
                    data[offset : offset + size] = value.to_bytes(size, order)
    return bytes(data)


def check(data: bytes) -> None:
    """The contract: decoded pixels that make sense, or a typed error; within BOUND_S either way."""
    started = time.perf_counter()
    try:
        image = decode(data, LIMITS)
    except BgRemoverError as exc:
        assert 400 <= exc.status < 500 and exc.code
    else:
        height, width = image.rgb.shape[:2]
        assert image.rgb.dtype.name == "uint8" and image.rgb.shape[2] == 3
        assert LIMITS.min_side <= min(width, height) and max(width, height) <= LIMITS.max_side
        assert image.alpha is None or image.alpha.shape == (height, width)
    assert time.perf_counter() - started < BOUND_S


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns on corrupt EXIF, as it should
@settings(
    max_examples=300,
    deadline=None,  # the bound is asserted in check(); a wall-clock deadline would flake on a loaded box
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=mutated())
@example(data=b"\xff\xd8\xff")
@example(data=b"\x89PNG\r\n\x1a\n")
@example(data=b"GIF89a\xff\xff\xff\xff\x80\x00\x00")
@example(data=b"BM" + b"\x00" * 60)
@example(data=b"II*\x00\x08\x00\x00\x00\xff\xff")
@example(data=b"RIFF\x00\x00\x00\x00WEBPVP8 ")
def test_mutated_real_images_decode_or_fail_typed(data):
    check(data)


def test_seeds_are_real_and_decode():
    """The fuzz starts from files that decode, so every failure is the mutation's doing."""
    assert len(seeds()) == 10
    for name, data in seeds().items():
        assert decode(data, LIMITS).rgb.size > 0, name
