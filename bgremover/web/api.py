"""The API blueprint: thin views that parse, call the engine and respond."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import PurePath
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Response, g, jsonify, request, stream_with_context

from bgremover.errors import InvalidOption
from bgremover.processing import Options, Result, parse_options
from bgremover.processing.deadline import Deadline
from bgremover.processing.presets import PRESETS
from bgremover.web import auth, batch, inputs, observability, readfile, responses, urlfetch
from bgremover.web.extensions import limiter
from bgremover.web.headers import Header
from bgremover.web.services import services

bp = Blueprint("api", __name__)
P = ParamSpec("P")
R = TypeVar("R")


def _limit(setting: str, **kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Authenticate (when keys are on), then apply the hourly limit named by `setting` (or the key's own).

    `kwargs` go to Flask-Limiter's `limit` as they are (`cost`, `deduct_when`).
    """
    limit = limiter.limit(lambda: auth.hourly_limit(getattr(services().settings, setting)), **kwargs)

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        return auth.key_required(limit(view))

    return decorate


def _options(raw: dict[str, object]) -> Options:
    return parse_options(raw, default_model=services().settings.model_name)


def _run(data: bytes, options: Options) -> Result:
    result = services().engine.process(data, options, deadline=Deadline(services().settings.processing_timeout_s))
    observability.record_result(result)
    return result


def _process(data: bytes, raw: dict[str, object]) -> Result:
    return _run(data, _options(raw))


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
    stem = batch.download_stem(filename)
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
    """Base64 JSON (or an `image_url` to fetch) in, result JSON out."""
    body = inputs.json_body(request)
    settings = services().settings
    if body.get("image_url") is not None:
        if body.get("image") is not None:
            raise InvalidOption("Send either 'image' or 'image_url', not both", hint="Remove one of the two")
        options = _options(inputs.raw_options(body))  # a bad option is refused before anything is fetched
        return _json_result(_run(urlfetch.fetch_image(body["image_url"], settings), options))
    data = inputs.base64_image(body, settings.max_content_length)
    return _json_result(_process(data, inputs.raw_options(body)))


def _batch_size() -> int:
    """What a batch costs against the limit: its number of files (1 when it is refused for its shape)."""
    try:
        count = len(request.files.getlist("file"))
    except Exception:  # the limiter must not fail here; the view reports a bad body
        return 1
    return count if 1 <= count <= services().settings.batch_max_files else 1


# With deduct_when, Flask-Limiter tests that the batch's cost fits BEFORE the view runs and records the hit after
# the response is made: a batch that would exceed the limit gets a 429, nothing is processed, and it costs nothing.
@bp.post("/remove-background-batch")
@_limit("rate_limit_batch_per_hour", cost=_batch_size, deduct_when=lambda response: response.status_code != 429)
def remove_background_batch() -> Response:
    """Several `file` parts in, a ZIP of the results and a manifest out, streamed as each file is done."""
    settings = services().settings
    uploads = batch.read_all(inputs.uploaded_files(request, settings.batch_max_files))
    options = _options(inputs.raw_options(request.form))
    body = batch.stream_zip(uploads, lambda data: _run(data, options), settings.batch_deadline_s, g.request_id)
    response = Response(stream_with_context(body), mimetype="application/zip")
    response.headers[Header.CONTENT_DISPOSITION] = 'attachment; filename="bgremover-batch.zip"'
    return response


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
