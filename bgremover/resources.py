"""The files the repository keeps at its top, found inside the installed package or beside it in a checkout.

A wheel carries them inside the package (hatch_build.py maps them, as pyproject.toml lists them); a checkout,
editable-installed or not, has them beside the package.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
RESOURCES = ("templates", "static", "gunicorn.conf.py")


def resource(name: str) -> Path:
    """The path of one of RESOURCES: inside the package when installed from a wheel, else in the checkout."""
    if name not in RESOURCES:
        raise ValueError(f"{name!r} is not one of the packaged resources {RESOURCES}")
    inside = PACKAGE / name
    return inside if inside.exists() else PACKAGE.parent / name
