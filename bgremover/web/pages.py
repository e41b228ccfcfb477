"""The page blueprint: the upload page, with versioned static URLs and a strict CSP."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from bgremover.processing import decode
from bgremover.processing.options import DEFAULT_QUALITY, OPTIONS_BY_NAME
from bgremover.processing.presets import PRESETS
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.processing.shadow import PARAMS as SHADOW_PARAMS
from bgremover.web import i18n
from bgremover.web.services import services

bp = Blueprint("pages", __name__)

# The page loads nothing from elsewhere and runs no inline script or style.
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# How the page words each choice; the choices themselves come from the option table (a test checks both).
FORMAT_LABELS = {
    "PNG": _l("PNG (transparent)"),
    "WEBP": _l("WEBP (transparent, small)"),
    "JPEG": _l("JPEG (no transparency)"),
}
REFINE_LABELS = {
    "none": _l("None (the model's raw mask)"),
    "standard": _l("Standard"),
    "high": _l("High (steadier on hard photos, slower)"),
}
# The row of background colours offered beside the colour picker.
SWATCHES = (
    (_l("White"), "#ffffff"),
    (_l("Light grey"), "#e5e7eb"),
    (_l("Black"), "#000000"),
    (_l("Sky blue"), "#81d4fa"),
    (_l("Mint"), "#a5d6a7"),
    (_l("Peach"), "#ffccbc"),
    (_l("Lemon"), "#fff59d"),
    (_l("Red"), "#e53935"),
)
# What the page's scripts say, translated here and embedded in the page as JSON (app.js, `t`); %(name)s are
# filled in there.
SCRIPT_MESSAGES = {
    "bytes": _l("%(n)s B"),
    "kilobytes": _l("%(n)s KB"),
    "megabytes": _l("%(n)s MB"),
    "moment": _l("a moment"),
    "seconds": _l("%(n)s seconds"),
    "minutes": _l("%(n)s minutes"),
    "original_size": _l("original size"),
    "all_processed": _l("All %(n)s images processed."),
    "waiting": _l("Waiting"),
    "uploading": _l("Uploading…"),
    "processing": _l("Removing background…"),
    "done": _l("Done"),
    "failed": _l("Failed"),
    "uploading_one": _l("Uploading %(name)s…"),
    "uploading_more": _l("Uploading %(name)s (%(n)s more waiting)…"),
    "removing": _l("Removing the background of %(name)s…"),
    "unreachable": _l("The server could not be reached"),
    "unreachable_solution": _l("Check your connection and try again."),
    "went_wrong": _l("Something went wrong (HTTP %(status)s)"),
    "try_again": _l("Try again."),
    "limited": _l("You have reached the limit of images for now."),
    "limited_solution": _l("Try again in %(wait)s."),
    "smaller_file": _l("Send a smaller file."),
    "item_error": _l("%(name)s: %(error)s"),
    "removed": _l("Background removed from %(name)s."),
    "canvas": _l("The image %(name)s with its background removed: draw on it with Erase or Restore"),
    "canvas_unsure": _l(
        "The image %(name)s with its background removed (worth a look: certainty %(certainty)s): "
        "draw on it with Erase or Restore"
    ),
    "cannot_edit": _l("This browser could not open the result for editing; the download still works."),
    "smaller": _l("%(ratio)s smaller"),
    "larger": _l("%(percent)s%% larger"),
    "info": _l("Download: %(size)s %(format)s · original %(original)s → cut-out %(cutout)s PNG, %(change)s"),
    "info_edited": _l(
        "Download: %(size)s %(format)s, touched up · original %(original)s → cut-out %(cutout)s PNG, %(change)s"
    ),
    "download_named": _l("Download %(name)s"),
    "preparing": _l("Preparing the download…"),
    "saved": _l("Saved %(name)s (%(size)s)."),
    "download_failed": _l("The download could not be made in this browser."),
    "download_all": _l("Download all %(n)s (ZIP)"),
    "preparing_zip": _l("Preparing the ZIP…"),
    "saved_zip": _l("Saved %(n)s images in %(name)s."),
    "zip_failed": _l("The ZIP could not be made in this browser."),
    "bad_photo": _l("That background photo could not be read."),
    "compare_value": _l("%(n)s%% original"),
    "worth_a_look": _l("Worth a look"),
    "reviewed": _l("Reviewed"),
    "position": _l("Image %(position)s of %(total)s: "),
    "certainty": _l("Certainty %(certainty)s"),
    "certainty_unsure": _l("Certainty %(certainty)s, below %(threshold)s: worth a look"),
    "summary": _l("%(unsure)s of %(total)s worth a look"),
    "summary_reviewed": _l(" · %(n)s reviewed"),
    "summary_to_go": _l(" · %(n)s to go"),
    "stepped": _l("Worth a look %(index)s of %(count)s: %(name)s, certainty %(certainty)s."),
    "none_unsure": _l("No image is worth a look."),
    "no_result": _l("No result yet."),
}


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
    language = str(get_locale() or i18n.DEFAULT)
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
        language=language,
        direction=i18n.LANGUAGES[language].direction,
        languages=i18n.LANGUAGES,
        script_messages={key: str(text) for key, text in SCRIPT_MESSAGES.items()},
        input_formats=decode.INPUT_MIMETYPES,
        max_mb=settings.max_content_length // 2**20,
        max_side=settings.max_image_side,
        ask_key=settings.api_keys_enabled and not settings.page_public,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Language"] = language
    response.vary.add("Accept-Language")
    return response
