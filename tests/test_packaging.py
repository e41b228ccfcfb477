"""The package as a wheel: its dependency ranges against the tested lock, its licence, the resources it carries,
and, installed in a fresh virtualenv, a server that works on its own."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from PIL import Image

from tests.services import AppServer

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
    "gunicorn": "the production server that `bgremover serve` runs (gunicorn.conf.py)",
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
    assert "-r " not in text  # installed alone (--no-deps) into the build's own folder
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


def _run(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, check=False, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.mark.slow
def test_the_wheel_installed_in_a_fresh_virtualenv_serves_on_its_own(tmp_path, settings, data_dir):
    """Build the wheel, install it outside the checkout, provision u2netp, `bgremover serve`: page, script, cut-out."""
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", ROOT)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    declared = PYPROJECT["project"]["version"]
    assert wheel.name == f"bgremover-{declared}-py3-none-any.whl"

    venv = tmp_path / "venv"  # no --system-site-packages: only what is installed into it
    _run(sys.executable, "-m", "venv", venv)
    pip = [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check"]
    _run(*pip, "-r", ROOT / "requirements.txt")
    _run(*pip, "--no-deps", wheel)
    _run(venv / "bin" / "python", "-m", "pip", "check")  # the lock satisfies every range the wheel declares

    cwd, home = tmp_path / "elsewhere", tmp_path / "models"  # nothing of the checkout on the path or in the cwd
    cwd.mkdir()
    home.mkdir()
    (home / "u2netp.onnx").symlink_to(settings.u2net_home.expanduser() / "u2netp.onnx")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(U2NET_HOME=str(home), CASCADE_MODEL="none", MODEL_NAME="u2netp", RATELIMIT_ENABLED="false")
    bgremover = venv / "bin" / "bgremover"
    assert _run(bgremover, "--version", cwd=cwd, env=env).stdout.strip() == f"bgremover, version {declared}"
    fetched = _run(bgremover, "models", "fetch", "u2netp", cwd=cwd, env=env).stdout
    assert fetched.strip() == f"u2netp: {home / 'u2netp.onnx'}"
    where = "import bgremover.resources as r; print(r.PACKAGE); print(r.resource('static'))"
    package, static = _run(venv / "bin" / "python", "-c", where, cwd=cwd, env=env).stdout.split()
    assert Path(package).is_relative_to(venv) and Path(static) == Path(package) / "static"

    server = AppServer(env, tmp_path, command=[str(bgremover), "serve"], cwd=cwd, base_env=env)
    server.command += ["--port", str(server.port), "--threads", "2"]
    server.start(timeout=180)
    try:
        page = requests.get(f"{server.url}/", timeout=30)
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        script = re.search(r'<script src="(/static/(app\.js)\?[^"]*)"', page.text)
        assert script, page.text[:500]
        served = requests.get(f"{server.url}{script.group(1)}", timeout=30)
        assert served.status_code == 200 and served.content == (ROOT / "static" / script.group(2)).read_bytes()

        photo = data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"
        cut = requests.post(f"{server.url}/remove-background", files={"file": photo.open("rb")}, timeout=120)
        assert cut.status_code == 200 and cut.headers["Content-Type"] == "image/png", cut.text[:300]
        image = Image.open(io.BytesIO(cut.content))
        assert image.mode == "RGBA" and image.size == Image.open(photo).size
        alpha = np.asarray(image.getchannel("A"))
        assert 0.05 < (alpha > 127).mean() < 0.95  # a subject kept and a background removed

        health = requests.get(f"{server.url}/health", timeout=10).json()
        assert health["status"] == "healthy" and health["version"] == declared
        assert requests.get(f"{server.url}/openapi.json", timeout=10).json()["info"]["version"] == declared
    finally:
        server.stop()
    assert server.proc.returncode == 0 and "Shutting down: Master" in server.log.read_text()


def test_the_readme_installs_the_wheel_that_the_build_names():
    declared = PYPROJECT["project"]["version"]
    assert f"pip install dist/bgremover-{declared}-py3-none-any.whl" in (ROOT / "README.md").read_text()
