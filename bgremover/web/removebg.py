"""remove.bg v1.0 on our engine: `POST /v1.0/removebg` and `GET /v1.0/account`, thin views over compat.removebg."""

from __future__ import annotations

import base64

from flask import Blueprint, Request, Response, current_app, jsonify, request
from flask_limiter import RequestLimit

from bgremover.compat import removebg
from bgremover.errors import InvalidOption
from bgremover.processing.deadline import Deadline
from bgremover.web import auth, inputs, observability, urlfetch
from bgremover.web.extensions import limiter
from bgremover.web.headers import Header
from bgremover.web.services import services

PREFIX = "/v1.0"
bp = Blueprint("removebg", __name__, url_prefix=PREFIX)
# One shared bucket per caller (API key, else address), so that /v1.0/account can read what is left of it.
LIMIT = limiter.shared_limit(
    lambda: auth.hourly_limit(services().settings.rate_limit_removebg_per_hour), scope="removebg"
)
FILES = tuple(f.name for f in removebg.FIELDS if f.kind == "file")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
# remove.bg answers 400 for anything wrong with the input, 403 for a missing or bad key; its clients know those.
STATUSES = {401: 403, 413: 400, 415: 400, 422: 400}
CREDITS_PER_IMAGE = 1


def error_shape(status: int, body: dict[str, str]) -> tuple[int, object]:
    """remove.bg's error body: {"errors": [{"title", "code", "detail"}]}, with its statuses."""
    detail = ". ".join(part.rstrip(".") for part in (body.get("details"), body.get("solution")) if part)
    return STATUSES.get(status, status), {"errors": [{"title": body["error"], "code": body["code"], "detail": detail}]}


def _fields(req: Request) -> tuple[dict[str, object], dict[str, bytes]]:
    """The request's fields and uploaded files: a form (multipart or urlencoded) or a JSON object."""
    if req.is_json:
        return dict(inputs.json_body(req)), {}
    if req.mimetype not in FORM_TYPES:
        raise InvalidOption(
            "Unsupported request body",
            hint="Send multipart/form-data, application/x-www-form-urlencoded or application/json",
        )
    files = {}
    for name in FILES:
        upload = req.files.get(name)
        if upload is not None:
            files[name] = upload.read()
            if not files[name]:
                raise InvalidOption(f"Parameter '{name}' is empty", hint="Send a non-empty image file")
    fields: dict[str, object] = dict(req.form.to_dict())
    return fields, files


def _given(fields: dict[str, object], files: dict[str, bytes]) -> dict[str, bool]:
    return {name: name in files or fields.get(name) not in (None, "") for name in (*fields, *files)}


def _image(fields: dict[str, object], files: dict[str, bytes]) -> bytes:
    settings = services().settings
    source = removebg.one_of(_given(fields, files), removebg.SOURCES, required=True)
    if source == "image_file":
        return files[source]
    if source == "image_file_b64":
        return inputs.base64_image(fields, settings.max_content_length, key=source)
    return urlfetch.fetch_image(str(fields[str(source)]), settings)


def _background(fields: dict[str, object], files: dict[str, bytes]) -> bytes | None:
    source = removebg.one_of(_given(fields, files), removebg.BACKGROUNDS, required=False)
    if source == "bg_image_file":
        return files[source]
    if source == "bg_image_url":
        return urlfetch.fetch_image(str(fields[source]), services().settings)
    return None


@bp.post("/removebg")
@auth.key_required  # first: the limit's key and size depend on the API key
@LIMIT
def remove_background() -> Response:
    """The cut-out as an image (or as JSON with Accept: application/json), with remove.bg's headers."""
    found = services()
    fields, files = _fields(request)
    job = removebg.parse(fields, default_model=found.settings.model_name)
    data = _image(fields, files)
    engine_job = job.to_job(background=_background(fields, files))
    result = found.engine.process(data, engine_job, deadline=Deadline(found.settings.processing_timeout_s))
    observability.record_result(result)
    assert result.subject is not None  # the layout step refuses a cut-out without one
    left, top, right, bottom = result.subject
    foreground = {"top": top, "left": left, "width": right - left, "height": bottom - top}
    if request.accept_mimetypes.best_match([result.mimetype, "application/json"]) == "application/json":
        payload = {"result_b64": base64.b64encode(result.data).decode("ascii")}
        response = jsonify(data={**payload, **{f"foreground_{k}": v for k, v in foreground.items()}})
    else:
        response = Response(result.data, mimetype=result.mimetype)
    response.headers.update(
        {  # type: ignore[arg-type]  # Header is a str enum
            Header.WIDTH: str(result.width),
            Header.HEIGHT: str(result.height),
            Header.TYPE: job.type,
            Header.CREDITS_CHARGED: str(CREDITS_PER_IMAGE),
            Header.FOREGROUND_TOP: str(top),
            Header.FOREGROUND_LEFT: str(left),
            Header.FOREGROUND_WIDTH: str(foreground["width"]),
            Header.FOREGROUND_HEIGHT: str(foreground["height"]),
        }
    )
    return response


def credits_left() -> int:
    """What is left of the caller's hourly remove.bg limit, read from the limiter's window without using any."""
    runtime = next(iter(LIMIT))  # the caller's limit: its API key's own, or RATE_LIMIT_REMOVEBG_PER_HOUR
    if not limiter.enabled:
        return runtime.limit.amount
    args = [runtime.key_func(), runtime.scope_for(request.endpoint or "", request.method)]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")
    if prefix:  # as Flask-Limiter builds its keys
        args.insert(0, prefix)
    return RequestLimit(limiter, runtime.limit, args, breached=False, shared=True).remaining


@bp.get("/account")
@auth.key_required
def account() -> Response:
    """remove.bg's account shape; every count is what is left of the caller's hourly limit here."""
    left = credits_left()
    credits = {"subscription": left, "payg": 0, "enterprise": 0, "total": left}
    return jsonify(data={"attributes": {"credits": credits, "api": {"free_calls": left, "sizes": "all"}}})
