"""The wheel's declared dependency ranges and the tested lock (requirements.txt) agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
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


# Runtime requirements the package needs without importing them, and why.
NOT_IMPORTED = {
    "gunicorn": "the production server that `make run` starts (gunicorn.conf.py)",
}


def _imported_distributions(package: Path) -> dict[str, set[str]]:
    """Third-party distributions the package's modules import (at any depth), mapped to the modules that do."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top in ("bgremover", "_typeshed"):
                    continue
                assert top in owners, f"{path.name} imports {top}, which no installed distribution provides"
                for dist in owners[top]:
                    found.setdefault(canonicalize_name(dist), set()).add(path.relative_to(package).as_posix())
    return found


def test_the_declared_runtime_requirements_are_exactly_what_the_package_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(t).name) for t in project["dependencies"]}
    extras = {
        canonicalize_name(Requirement(t).name): extra
        for extra, items in project.get("optional-dependencies", {}).items()
        for t in items
    }
    imported = _imported_distributions(ROOT / "bgremover")
    undeclared = {d: sorted(m) for d, m in imported.items() if d not in runtime and d not in extras}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    unused = runtime - set(imported) - set(NOT_IMPORTED)
    assert not unused, f"declared runtime requirements the package never imports: {sorted(unused)}"
    for dist, extra in extras.items():  # an extra's modules are imported only on demand, never at start-up
        for module in imported.get(dist, ()):
            assert module.startswith("models/int8_build"), f"{module} imports {dist} of the [{extra}] extra"


def test_the_int8_lock_adds_exactly_the_extra_and_what_it_needs():
    text = (ROOT / "requirements-int8.txt").read_text()
    assert "-r requirements.txt" in text
    pins = {canonicalize_name(line.split("==")[0]) for line in text.splitlines() if "==" in line}
    assert "nncf" in pins and not pins & set(_lock()), "the int8 lock repeats or lacks pins"


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_licence_is_mit_declared_and_shipped():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n") and "Copyright (c) bgremover contributors" in text


def test_the_wheel_maps_each_top_level_resource_into_the_package():
    from bgremover.resources import RESOURCES, resource

    mapped = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]["resources"]
    assert mapped == {name: f"bgremover/{name}" for name in RESOURCES}
    for name in RESOURCES:
        assert resource(name) == ROOT / name and resource(name).exists()  # a checkout: beside the package
    with pytest.raises(ValueError, match="not one of"):
        resource("bench")
