"""The page in the visitor's language: the shipped languages, how one is chosen, and Flask-Babel.

Only the page is translated; the API's messages stay English (its clients match on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, request
from flask_babel import Babel

# the catalogues: translations/<code>/LC_MESSAGES/messages.po (and its compiled .mo); `make messages` updates them
TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    """A shipped language: its name in itself (for the switch) and its writing direction."""

    name: str
    direction: str = "ltr"


LANGUAGES = {
    "en": Language("English"),
    "de": Language("Deutsch"),
    "fr": Language("Français"),
    "es": Language("Español"),
    "ar": Language("العربية", "rtl"),
}

babel = Babel()


def chosen() -> str:
    """The page's language: `?lang=` when it names a shipped one, else the best of Accept-Language, else English."""
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


def init_app(app: Flask) -> None:
    """Attach Flask-Babel with the shipped catalogues and the language choice above."""
    babel.init_app(app, locale_selector=chosen, default_translation_directories=str(TRANSLATIONS))
