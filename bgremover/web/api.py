"""The API blueprint: thin views that parse, call the engine and respond."""

from __future__ import annotations

import base64
from pathlib import PurePath

from flask import Blueprint, Response, jsonify, request
from werkzeug.utils import secure_filename

from bgremover.errors import InvalidOption
from bgremover.processing import Result, parse_options
from bgremover.processing.presets import PRESETS
from bgremover.web import inputs, observability, readfile, responses
from bgremover.web.extensions import limiter
from bgremover.web.headers import Header
from bgremover.web.services import services

bp = Blueprint("api", __name__)


def _limit(setting: str):
    """A per-hour limit read from the settings of the app serving the request."""
    return limiter.limit(lambda: f"{getattr(services().settings, setting)}/hour")


def _process(data: bytes, raw: dict[str, object]) -> Result:
    found = services()
    options = parse_options(raw, default_model=found.settings.model_name)
    result = found.engine.process(data, options)
    observability.record_result(result)
    return result


def _json_result(result: Result) -> Response:
    response = jsonify(responses.result_json(result))
    response.headers.update(responses.headers(result))
    return response


@bp.post("/remove-background")
@_limit("rate_limit_remove_bg_per_hour")
def remove_background() -> Response:
    """Multipart upload in, the image as a download out."""
    data, filename = inputs.uploaded_file(request)
    result = _process(data, inputs.raw_options(request.form))
    stem = secure_filename(PurePath(filename).stem)[:100] or "image"
    response = Response(result.data, mimetype=result.mimetype)
    response.headers[Header.CONTENT_DISPOSITION] = f'attachment; filename="{stem}-no-bg.{result.extension}"'
    response.headers.update(responses.headers(result))
    return response


@bp.post("/remove-background-preview")
@_limit("rate_limit_preview_per_hour")
def remove_background_preview() -> Response:
    """Multipart upload in, result JSON (with the image as base64) out."""
    data, _ = inputs.uploaded_file(request)
    return _json_result(_process(data, inputs.raw_options(request.form)))


@bp.post("/remove-background-base64")
@_limit("rate_limit_base64_per_hour")
def remove_background_base64() -> Response:
    """Base64 JSON in, result JSON out."""
    body = inputs.json_body(request)
    data = inputs.base64_image(body, services().settings.max_content_length)
    return _json_result(_process(data, inputs.raw_options(body)))


@bp.post("/read-file")
@_limit("rate_limit_read_file_per_hour")
def read_file() -> Response:
    """An image file from READ_FILE_DIR, unprocessed, as base64 JSON."""
    settings = services().settings
    if settings.read_file_dir is None:
        raise readfile.FileNotServed("/read-file is disabled on this server (READ_FILE_DIR is not set)")
    body = inputs.json_body(request)
    if "path" not in body:
        raise InvalidOption("Missing parameter 'path'", hint="Send the file's path relative to READ_FILE_DIR")
    data, mimetype = readfile.read_image(settings.read_file_dir, body["path"], settings.max_content_length)
    return jsonify(
        success=True,
        image=base64.b64encode(data).decode("ascii"),
        mimetype=mimetype,
        size=len(data),
        filename=PurePath(str(body["path"])).name,
    )


@bp.get("/api/presets")
def presets() -> Response:
    """The preset table."""
    return jsonify({name: preset.to_dict() for name, preset in PRESETS.items()})
