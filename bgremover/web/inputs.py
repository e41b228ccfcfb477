"""Reading what a request sends: an uploaded file, a base64 image, and the processing options."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

from flask import Request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest

from bgremover.errors import InvalidOption, PayloadTooLarge
from bgremover.processing.options import OPTION_NAMES

DATA_URL = re.compile(r"data:image/[a-zA-Z0-9.+-]+;base64,", re.ASCII)


def _missing(name: str, hint: str) -> InvalidOption:
    return InvalidOption(f"Missing parameter '{name}'", hint=hint)


def json_body(request: Request) -> Mapping[str, object]:
    """The request's JSON object, or a 400 saying what is wrong with the body."""
    if not request.is_json:
        raise InvalidOption("The body must be JSON", hint="Send Content-Type: application/json with a JSON object")
    try:
        body = request.get_json(force=False, silent=False)
    except BadRequest:
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


def base64_image(body: Mapping[str, object], cap: int) -> bytes:
    """Strictly decoded bytes of `image` (plain base64 or a data URL), size-checked before decoding."""
    value = body.get("image")
    if value is None or value == "":
        raise _missing(
            "image", "Send the image as base64 (or a data:image/...;base64, URL) in 'image', or its URL in 'image_url'"
        )
    if not isinstance(value, str):
        raise InvalidOption("Invalid parameter 'image': expected a base64 string", hint="Send a base64 string")
    match = DATA_URL.match(value)
    payload = value[match.end() :] if match else value
    payload = "".join(payload.split())  # line breaks from base64 tools are allowed
    if len(payload) * 3 // 4 > cap:
        raise PayloadTooLarge(details=f"The decoded image would exceed {cap} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidOption(
            "Invalid parameter 'image': not valid base64",
            hint="Encode the file with standard base64 (A-Z, a-z, 0-9, +, /, = padding)",
        ) from None
    if not data:
        raise InvalidOption("Parameter 'image' is empty", hint="Send a non-empty image")
    return data


def raw_options(source: Mapping[str, object]) -> dict[str, object]:
    """The option fields of a form or JSON object (other keys ignored)."""
    return {name: source.get(name) for name in OPTION_NAMES if name in source}
