"""App fixtures: a real app (real engine and model) per test, configured through real settings."""

from __future__ import annotations

import pytest

from bgremover.app import create_app
from bgremover.settings import load_settings


@pytest.fixture
def make_app(registry, tmp_path):
    """Build an app with setting overrides; the loaded model is shared so each app starts fast."""

    def build(**overrides):
        overrides.setdefault("log_file", tmp_path / "app.log")
        app = create_app(load_settings(_env_file=None, **overrides), registry=registry)
        return app

    return build


@pytest.fixture
def app(make_app):
    """An app with the default settings."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of the default app."""
    return app.test_client()
