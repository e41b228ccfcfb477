"""Seams for features built on another branch: URL inputs (web/urlfetch.py) and API keys (web/auth.py).

Until those modules land, URL inputs answer a clear 400 and every caller is anonymous; wiring them is a
one-line change in each function below.
"""

from __future__ import annotations

from flask import Request

from bgremover.errors import InvalidOption
from bgremover.settings import Settings


def fetch_image(url: str, settings: Settings) -> bytes:
    """The bytes of the image at `url`; for now always the 400 saying URL inputs are off."""
    raise InvalidOption(
        "URL inputs are disabled on this server",
        hint="Send the image itself (a file or base64); the operator can turn on IMAGE_URL_ENABLED",
    )


def authenticate(request: Request) -> None:
    """Check the caller's API key when keys are configured; for now there are none, so every caller passes."""
