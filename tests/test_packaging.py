"""The wheel's declared dependency ranges and the tested lock (requirements.txt) agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_every_declared_range_is_met_by_the_lock():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lock = _lock()
    assert declared, "a built wheel would install nothing"
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is declared but not pinned in requirements.txt"
        assert req.specifier.contains(lock[name]), f"{req.name}=={lock[name]} is outside {req.specifier}"
        assert req.specifier, f"{req.name} has no range"
