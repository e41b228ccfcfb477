"""Reading what a request sends: an uploaded file, a base64 image, and the processing options."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from flask import Request
from werkzeug.datastructures import FileStorage

from bgremover.errors import InvalidOption, PayloadTooLarge
from bgremover.processing.options import OPTION_NAMES

DATA_URL = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,", re.ASCII)
# Every JSON body of the API is a flat object of a dozen scalars. Parsing builds a Python object per
# value (a 16 MiB `[[],[],…]` costs about 330 MB), so the structure is counted on the bytes first.
MAX_JSON_TOKENS = 1_000  # brackets, braces, commas, colons and strings; a full request has about 50
MAX_JSON_DEPTH = 8  # far below the json module's recursion limit; room for clients' nested extras
_JSON_TOKEN = re.compile(rb'["\[\]{},:]')


def _missing(name: str, hint: str) -> InvalidOption:
    return InvalidOption(f"Missing parameter '{name}'", hint=hint)


def _string_end(data: bytes, start: int, budget: int) -> tuple[int, int]:
    """(index after the closing quote, escaped quotes passed) of the JSON string whose text begins at `start`.

    Stops early, at the end of the data, once more than `budget` escaped quotes were passed.
    """
    pos, escaped = start, 0
    while (quote := data.find(b'"', pos)) >= 0 and escaped <= budget:
        if quote == pos or data[quote - 1] != 0x5C:  # no backslash before it: the string ends here
            return quote + 1, escaped
        run = data[pos:quote]
        if (len(run) - len(run.rstrip(b"\\"))) % 2 == 0:  # an even run of backslashes escapes itself
            return quote + 1, escaped
        pos, escaped = quote + 1, escaped + 1
    return len(data), escaped  # unterminated (the parser will say so) or over budget


def check_json_shape(data: bytes) -> None:
    """Refuse JSON with more than MAX_JSON_TOKENS tokens or nested deeper than MAX_JSON_DEPTH, unparsed.

    One pass of C-speed searches: strings are skipped with bytes.find, so a large base64 image costs
    a few milliseconds; the loop itself runs at most about MAX_JSON_TOKENS times.
    """
    too_big = InvalidOption(
        "The JSON body is too large or too deeply nested",
        hint="Send a flat JSON object of the documented fields",
        details=f"At most {MAX_JSON_TOKENS:,} values and {MAX_JSON_DEPTH} levels of nesting",
    )
    tokens = depth = pos = 0
    while (match := _JSON_TOKEN.search(data, pos)) is not None:
        char, pos = data[match.start()], match.end()
        if char == 0x22:  # "
            pos, escaped = _string_end(data, pos, MAX_JSON_TOKENS - tokens)
            tokens += escaped
        elif char in b"[{":
            depth += 1
        elif char in b"]}":
            depth -= 1
        tokens += 1
        if tokens > MAX_JSON_TOKENS or depth > MAX_JSON_DEPTH:
            raise too_big


def json_body(request: Request) -> Mapping[str, object]:
    """The request's JSON object, or a 400 saying what is wrong with the body."""
    if not request.is_json:
        raise InvalidOption("The body must be JSON", hint="Send Content-Type: application/json with a JSON object")
    data = request.get_data(cache=False)
    if json.detect_encoding(data) not in ("utf-8", "utf-8-sig"):  # RFC 8259: UTF-8 between systems
        raise InvalidOption("The body must be UTF-8 JSON", hint="Encode the JSON body as UTF-8")
    check_json_shape(data)
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidOption("The body is not valid JSON", hint="Send a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidOption("The body must be a JSON object", hint='Send {"image": "...", ...}')
    return body


def uploaded_file(request: Request) -> tuple[bytes, str]:
    """The bytes and the client's file name of the multipart field `file`."""
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise _missing("file", "Send multipart/form-data with the image in a field named 'file'")
    upload = request.files.get("file")
    if upload is None:
        raise _missing("file", "Send the image in a multipart field named 'file'")
    data = upload.read()
    if not data:
        raise InvalidOption("Parameter 'file' is empty", hint="Send a non-empty image file")
    return data, upload.filename or "image"


def uploaded_files(request: Request, most: int) -> list[FileStorage]:
    """The multipart `file` parts of a batch: at least one, at most `most` (BATCH_MAX_FILES)."""
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise _missing("file", "Send multipart/form-data with one field named 'file' per image")
    uploads = request.files.getlist("file")
    if not uploads:
        raise _missing("file", "Send the images in multipart fields named 'file'")
    if len(uploads) > most:
        raise InvalidOption(
            f"Too many files: at most {most} per batch",
            hint=f"Split the files into batches of at most {most} (BATCH_MAX_FILES)",
            details=f"Got {len(uploads)}",
        )
    return uploads


def base64_image(body: Mapping[str, object], cap: int, key: str = "image") -> bytes:
    """Strictly decoded bytes of `key` (plain base64 or a data URL), size-checked before decoding."""
    value = body.get(key)
    if value is None or value == "":
        raise _missing(
            key, f"Send the image as base64 (or a data:image/...;base64, URL) in '{key}', or its URL in 'image_url'"
        )
    if not isinstance(value, str):
        raise InvalidOption(f"Invalid parameter '{key}': expected a base64 string", hint="Send a base64 string")
    match = DATA_URL.match(value)
    payload = value[match.end() :] if match else value
    payload = "".join(payload.split())  # line breaks from base64 tools are allowed
    if len(payload) * 3 // 4 > cap:
        raise PayloadTooLarge(details=f"The decoded image would exceed {cap} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidOption(
            f"Invalid parameter '{key}': not valid base64",
            hint="Encode the file with standard base64 (A-Z, a-z, 0-9, +, /, = padding)",
        ) from None
    if not data:
        raise InvalidOption(f"Parameter '{key}' is empty", hint="Send a non-empty image")
    return data


def raw_options(source: Mapping[str, object]) -> dict[str, object]:
    """The option fields of a form or JSON object (other keys ignored)."""
    return {name: source.get(name) for name in OPTION_NAMES if name in source}
