"""Decoder-bomb checks: cheap walks over a file's container structure, before Pillow parses or decodes it.

Pillow parses JPEG markers, PNG chunks, GIF extension blocks and TIFF strip lists in Python, one object
per element, and libjpeg walks the whole image once per progressive scan. A small file can therefore
hold enough elements to keep a worker busy for minutes or to fill its memory; these walks count them
first, stop as soon as a bound is passed, and never build more than a few integers. What they cannot
parse they leave to Pillow, which then refuses the file as it always did.
"""

from __future__ import annotations

import math
import re
import struct

from PIL import Image, ImageFile

from bgremover.errors import ImageTooComplex, TooManyScans, TooManySegments

# Each scan makes libjpeg walk every block of the image again: measured up to 12 ms per scan at 4096x4096
# on a 2-core box (a file of the same 33-byte scan repeated 2,000 times: 165 KB, minutes of work).
# libjpeg's own progressive script writes 10 scans for colour and 18 for CMYK; libtiff refuses JPEG
# data with 100 or more (its LIBTIFF_JPEG_MAX_ALLOWED_SCAN_NUMBER), so 100 costs at most ~1.2 s.
MAX_JPEG_SCANS = 100
# Markers of every kind (APPn, COM, DQT, DHT, SOS…). Real files carry tens: Exif, XMP, an ICC profile in
# at most 255 APP2 chunks, a table or two per scan. Pillow keeps each APPn/COM in Python: 4 million
# empty ones in 16 MiB took 14.8 s and 620 MB.
MAX_JPEG_SEGMENTS = 1_000
# libpng writes 8 KiB IDAT chunks: 2,048 of them fill a 16 MiB body. Pillow reads chunks in Python
# (1.4 million tiny ones took 3.6 s), so ten times the real maximum costs it about 50 ms.
MAX_PNG_CHUNKS = 20_000
# Extension sub-blocks before a GIF's first image (comments, XMP, ICC, loop count). Pillow joins them in
# Python: 8 million one-byte comment sub-blocks took 7 s and 780 MB. 10,000 hold 2.5 MB of metadata.
MAX_GIF_SUBBLOCKS = 10_000
# Pillow's BMP RLE decoder is pure Python, about 0.8 µs per compressed byte (16 MiB: 13.4 s). RLE suits
# flat graphics, which stay far below this even at 4096x4096.
MAX_BMP_RLE_BYTES = 2 * 1024 * 1024

_JPEG_MARKER = re.compile(rb"\xff[^\x00\xff\xd0-\xd7]")  # FF then a marker code; not stuffing, fill or RSTn
_JPEG_NO_LENGTH = {0x01, 0xD8}  # TEM and SOI have no length field (RSTn are skipped by the pattern)
_JPEG_EOI, _JPEG_SOS = 0xD9, 0xDA


def _jpeg(data: bytes) -> None:
    """Count markers and scans the way libjpeg finds them: entropy-coded data ends at the next marker."""
    scans = segments = 0
    pos = 2
    while (match := _JPEG_MARKER.search(data, pos)) is not None:
        code = data[match.start() + 1]
        if code == _JPEG_EOI:
            return
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise TooManySegments(details=f"The JPEG has more than {MAX_JPEG_SEGMENTS:,} markers")
        if code == _JPEG_SOS:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise TooManyScans(details=f"The JPEG has more than {MAX_JPEG_SCANS} scans")
        pos = match.end()
        if code not in _JPEG_NO_LENGTH:
            pos += int.from_bytes(data[pos : pos + 2], "big")


def _png(data: bytes) -> None:
    """Count chunks up to IEND by their length fields (CRCs and contents are Pillow's business)."""
    pos, chunks = 8, 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise TooManySegments(details=f"The PNG has more than {MAX_PNG_CHUNKS:,} chunks")
        if kind == b"IEND":
            return
        pos += 12 + length


def _gif(data: bytes) -> None:
    """Count extension sub-blocks before the first image, the only part of a GIF that Pillow reads here."""
    if len(data) < 13:
        return
    pos, subblocks = 13, 0
    if data[10] & 0x80:  # global colour table
        pos += 3 << ((data[10] & 7) + 1)
    while pos + 1 < len(data) and data[pos] == 0x21:  # extension introducer; 0x2C (image) or 0x3B ends it
        pos += 2
        while pos < len(data):
            size = data[pos]
            subblocks += 1
            if subblocks > MAX_GIF_SUBBLOCKS:
                raise TooManySegments(details=f"The GIF has more than {MAX_GIF_SUBBLOCKS:,} blocks before its image")
            pos += 1 + size
            if size == 0:
                break


_TIFF_GEOMETRY = {256, 257, 273, 277, 278, 284, 322, 323, 324}  # sizes, strips, planes, tiles


def _tiff_fields(data: bytes) -> dict[int, tuple[int, int | None]]:
    """{tag: (count, inline SHORT/LONG value)} of the first directory, values not unpacked.

    Pillow's own parser turns every strip offset into a Python int on open (2 million: 0.6 s, 100 MB),
    which is the cost this check must not pay.
    """
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return {}
    (first,) = struct.unpack_from(order + "I", data, 4)
    if first + 2 > len(data):
        return {}
    (count,) = struct.unpack_from(order + "H", data, first)
    table = data[first + 2 : first + 2 + 12 * count]
    fields: dict[int, tuple[int, int | None]] = {}
    for tag, kind, n, raw in struct.iter_unpack(order + "HHI4s", table[: len(table) // 12 * 12]):
        if tag in _TIFF_GEOMETRY:
            value = struct.unpack_from(order + ("H" if kind == 3 else "I"), raw)[0] if kind in (3, 4) else None
            fields[tag] = (n, value)
    return fields


def _tiff(data: bytes) -> None:
    """Refuse more strip or tile offsets than the first page's size needs (Pillow makes a tile of each)."""
    fields = _tiff_fields(data)

    def value(tag: int, fallback: int) -> int:
        found = fields.get(tag, (0, None))[1]
        return found if found else fallback

    # the most a page can need: rows per strip and tile sides taken at their smallest legal values
    width, height = value(256, 1), value(257, 1)
    planes = value(277, 1) if value(284, 1) == 2 else 1
    needs = {
        273: ("strips", math.ceil(height / min(value(278, 1), height)) * planes),
        324: ("tiles", math.ceil(width / value(322, 16)) * math.ceil(height / value(323, 16)) * planes),
    }
    for tag, (kind, needed) in needs.items():
        listed = fields.get(tag, (0, None))[0]
        if listed > needed:
            page = f"a {width}x{height} page has {needed:,}"
            raise TooManySegments(details=f"The TIFF lists {listed:,} {kind} where {page}")


_BEFORE_OPEN = {"JPEG": _jpeg, "PNG": _png, "GIF": _gif, "TIFF": _tiff}


def check_container(fmt: str, data: bytes) -> None:
    """Refuse files of the sniffed format whose structure would make Pillow's own parsing a bomb."""
    walk = _BEFORE_OPEN.get(fmt)
    if walk is not None:
        walk(data)


def check_opened(image: Image.Image, data: bytes) -> None:
    """Refuse what the opened header shows would be too costly to decode (Pillow's pure-Python decoders)."""
    assert isinstance(image, ImageFile.ImageFile)  # what Image.open returns: it has the tile list
    for tile in image.tile:
        if tile.codec_name == "bmp_rle" and len(data) - tile.offset > MAX_BMP_RLE_BYTES:
            raise ImageTooComplex(
                details=f"RLE-compressed BMP data over {MAX_BMP_RLE_BYTES // 2**20} MiB",
                hint="Save the image as PNG and try again",
            )
