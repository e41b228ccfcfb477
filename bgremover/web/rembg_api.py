"""rembg's server API on our engine: `POST /api/remove` (multipart `file`) and `GET /api/remove?url=`."""

from __future__ import annotations

from flask import Blueprint, Response, request

from bgremover.compat import rembg
from bgremover.errors import InvalidOption
from bgremover.processing.deadline import Deadline
from bgremover.web import auth, observability, urlfetch
from bgremover.web.extensions import limiter
from bgremover.web.services import services

PATH = "/api/remove"
bp = Blueprint("rembg", __name__)
# GET and POST count together, per caller (API key, else address).
LIMIT = limiter.shared_limit(lambda: auth.hourly_limit(services().settings.rate_limit_rembg_per_hour), scope="rembg")


def error_shape(status: int, body: dict[str, str]) -> tuple[int, object]:
    """FastAPI's error body, which rembg's clients read: {"detail": "..."} (our code and request id beside it)."""
    detail = body["error"] + (f" ({body['details']})" if body.get("details") else "")
    return status, {"detail": detail, "code": body["code"], "request_id": body["request_id"]}


def _job() -> rembg.Job:
    """rembg's fields, from the form first, then the query string (where rembg reads bgc and extras); a model
    not served here, or one whose licence the server has not accepted, is refused before any work."""
    raw = {**request.args.to_dict(), **request.form.to_dict()}
    settings = services().settings
    job = rembg.parse(raw, default_model=settings.model_name)
    rembg.check_model(str(job.options.model), accept_noncommercial=settings.accept_noncommercial_models)
    return job


def _remove(job: rembg.Job, data: bytes) -> Response:
    found = services()
    result = found.engine.process(data, job.to_job(), deadline=Deadline(found.settings.processing_timeout_s))
    observability.record_result(result)
    return Response(result.data, mimetype=result.mimetype)


@bp.post(PATH)
@auth.key_required  # first: the limit's key and size depend on the API key
@LIMIT
def remove_posted() -> Response:
    """The uploaded `file` without its background, as PNG."""
    job = _job()
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    if not data:
        raise InvalidOption("Missing parameter 'file'", hint="Send the image as a multipart field named 'file'")
    return _remove(job, data)


@bp.get(PATH)
@auth.key_required
@LIMIT
def remove_fetched() -> Response:
    """The image at `?url=` without its background, as PNG (URL rules as for every URL input)."""
    job = _job()
    url = request.args.get("url", "").strip()
    if not url:
        raise InvalidOption("Missing parameter 'url'", hint="Send the image's URL as ?url=...")
    return _remove(job, urlfetch.fetch_image(url, services().settings))
