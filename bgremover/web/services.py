"""What the views need (settings, models, engine), reached through one typed accessor like flaskr's get_db()."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from bgremover.apikeys import KeyStore
from bgremover.models.registry import ModelRegistry
from bgremover.processing import Engine
from bgremover.settings import Settings

KEY = "bgremover"


@dataclass
class Services:
    """The app's settings, its loaded models and the engine that uses them."""

    settings: Settings
    registry: ModelRegistry
    engine: Engine
    keys: KeyStore | None = None  # the API keys, when API_KEYS_FILE or API_KEYS turns them on


def init_app(app: Flask, services: Services) -> None:
    """Attach the services to the app."""
    app.extensions[KEY] = services


def services() -> Services:
    """The services of the app handling the current request."""
    found = current_app.extensions[KEY]
    assert isinstance(found, Services)
    return found
