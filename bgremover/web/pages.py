"""The page blueprint: the upload page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from bgremover.processing.presets import PRESETS

bp = Blueprint("pages", __name__)


@bp.get("/")
def index() -> str:
    """The upload page (works without JavaScript as a plain form)."""
    settings = current_app.config["SETTINGS"]
    return render_template("index.html", presets=PRESETS, max_mb=settings.max_content_length // 2**20)
