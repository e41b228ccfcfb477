"""The page blueprint: the upload page, with versioned static URLs and a strict CSP."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, url_for

from bgremover.processing import decode
from bgremover.processing.options import DEFAULT_QUALITY, OPTIONS_BY_NAME
from bgremover.processing.presets import PRESETS
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.processing.shadow import PARAMS as SHADOW_PARAMS
from bgremover.web.services import services

bp = Blueprint("pages", __name__)

# The page loads nothing from elsewhere and runs no inline script or style.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# How the page words each choice; the choices themselves come from the option table (a test checks both).
FORMAT_LABELS = {"PNG": "PNG (transparent)", "WEBP": "WEBP (transparent, small)", "JPEG": "JPEG (no transparency)"}
REFINE_LABELS = {
    "none": "None (the model's raw mask)",
    "standard": "Standard",
    "high": "High (steadier on hard photos, slower)",
}
# The row of background colours offered beside the colour picker.
SWATCHES = (
    ("White", "#ffffff"),
    ("Light grey", "#e5e7eb"),
    ("Black", "#000000"),
    ("Sky blue", "#81d4fa"),
    ("Mint", "#a5d6a7"),
    ("Peach", "#ffccbc"),
    ("Lemon", "#fff59d"),
    ("Red", "#e53935"),
)


@cache
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


@bp.app_template_global()
def static_url(filename: str) -> str:
    """A static file's URL with a content hash, so it can be cached for a year and still change."""
    path = Path(current_app.static_folder or "") / filename
    return url_for("static", filename=filename, v=_digest(path))


@bp.get("/")
def index() -> Response:
    """The upload page (a plain form that also works without JavaScript)."""
    settings = services().settings
    html = render_template(
        "index.html",
        presets=PRESETS,
        options=OPTIONS_BY_NAME,
        default_quality=DEFAULT_QUALITY,
        format_labels=FORMAT_LABELS,
        refine_labels=REFINE_LABELS,
        swatches=SWATCHES,
        shadow_params=SHADOW_PARAMS.to_dict(),
        unsure_below=UNSURE_CERTAINTY,
        input_formats=decode.INPUT_MIMETYPES,
        max_mb=settings.max_content_length // 2**20,
        max_side=settings.max_image_side,
        ask_key=settings.api_keys_enabled and not settings.page_public,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
