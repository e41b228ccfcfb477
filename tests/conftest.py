"""Shared fixtures: the real model (loaded once), the engine, and the evaluation data in ../shared/data."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgremover.app import create_app
from bgremover.models.registry import ModelRegistry
from bgremover.processing import Engine, Limits
from bgremover.settings import load_settings
from tests.web.loopback import ALLOWED, ImageServer, Trap

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("BGREMOVER_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The evaluation data; its absence fails (it is part of the test contract, see docs/operations.md)."""
    if not (DATA / "duts-te-150").is_dir():
        pytest.fail(f"evaluation data not found at {DATA} (set BGREMOVER_DATA)")
    return DATA


@pytest.fixture(scope="session")
def settings():
    """Settings from the environment, as the service would read them (no .env file)."""
    return load_settings(_env_file=None)


@pytest.fixture(scope="session")
def registry(settings) -> ModelRegistry:
    """The real default models (the primary and the cascade's), loaded and warmed once for the whole run."""
    reg = ModelRegistry.from_settings(settings)
    for name in settings.model_names:
        reg.load(name)
    return reg


@pytest.fixture(scope="session")
def engine(registry, settings) -> Engine:
    """The processing engine with the default limits and the default cascade."""
    return Engine(registry, settings.model_name, Limits(), settings.cascade_model)


@pytest.fixture(scope="session")
def photo_bytes(data_dir) -> bytes:
    """A real photo with a clear subject (rembg's car fixture), JPEG bytes."""
    return (data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg").read_bytes()


@pytest.fixture(scope="module")
def image_server(photo_bytes) -> Iterator[ImageServer]:
    """A real HTTP server on ALLOWED (127.0.0.2) serving the photo at /photo.jpg, and the paths loopback.py lists."""
    server = ImageServer(ALLOWED, photo_bytes).start()
    yield server
    server.stop()


@pytest.fixture
def trap() -> Iterator[Trap]:
    """Loopback ports (127.0.0.1 and ::1) that record every connection: what an image URL must never reach."""
    found = Trap()
    yield found
    found.close()


@pytest.fixture
def url_client(make_app):
    """A test client of an app that fetches image URLs, with the image server's address allow-listed."""
    return make_app(image_url_enabled=True, image_url_allow_hosts=[ALLOWED]).test_client()


def encode_image(image: Image.Image, fmt: str, **params) -> bytes:
    """Bytes of a Pillow image in a format."""
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def decode_output(data: bytes) -> Image.Image:
    """Open a result for inspection."""
    return Image.open(io.BytesIO(data))


def alpha_of(data: bytes) -> np.ndarray:
    """The alpha channel of an encoded result, as uint8."""
    return np.asarray(decode_output(data).convert("RGBA"))[:, :, 3]


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
