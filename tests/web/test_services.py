"""Views reach settings, models and the engine through services() only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from bgremover.web import services as services_module
from bgremover.web.services import Services, init_app, services

WEB = Path(services_module.__file__).parent


def test_services_is_what_the_app_was_given(app):
    with app.app_context():
        found = services()
        assert isinstance(found, Services)
        assert found.engine.models is found.registry
        assert found.engine.default_model == found.settings.model_name


def test_each_app_has_its_own_services(app, make_app):
    other = make_app(rate_limit_preview_per_hour=7)
    with app.app_context():
        first = services()
    with other.app_context():
        assert services() is not first and services().settings.rate_limit_preview_per_hour == 7


def test_an_app_without_services_fails_loudly():
    with Flask(__name__).app_context(), pytest.raises(KeyError):
        services()


def test_init_app_attaches_the_object(settings, registry, engine):
    bare = Flask(__name__)
    given = Services(settings, registry, engine)
    init_app(bare, given)
    with bare.app_context():
        assert services() is given


@pytest.mark.parametrize("path", sorted(WEB.glob("*.py")), ids=lambda p: p.name)
def test_no_view_reads_the_config_or_extensions_directly(path):
    text = path.read_text()
    assert not re.search(r"""config\[["']SETTINGS["']\]""", text)
    if path.name != "services.py":
        assert "current_app.extensions[" not in text
