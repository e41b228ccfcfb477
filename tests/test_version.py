"""The version is declared once (pyproject.toml) and shown by `bgremover --version`, /health and /openapi.json."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

from packaging.version import Version

import bgremover
from tests.conftest import ROOT
from tests.test_cli import bgremover as cli

DECLARED = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_pyproject_declares_the_release_and_no_module_repeats_it():
    assert Version(DECLARED) >= Version("1.0.0")
    literal = re.compile(rf"""["']{re.escape(DECLARED)}["']""")
    repeats = [p.name for p in (ROOT / "bgremover").rglob("*.py") if literal.search(p.read_text())]
    assert not repeats, f"{repeats} spell out the version; read bgremover.__version__ instead"


def test_the_package_reads_what_the_install_recorded():
    assert bgremover.__version__ == version("bgremover") != bgremover.UNKNOWN_VERSION
    assert bgremover.installed_version("bgremover-never-installed") == bgremover.UNKNOWN_VERSION


def test_the_command_line_prints_it():
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"bgremover, version {bgremover.__version__}"


def test_health_and_the_openapi_document_carry_it(client):
    assert client.get("/health").get_json()["version"] == bgremover.__version__
    outsider = client.get("/health", environ_base={"REMOTE_ADDR": "203.0.113.9"}).get_json()
    assert outsider["version"] == bgremover.__version__ and outsider["checks"] == {}
    assert client.get("/openapi.json").get_json()["info"]["version"] == bgremover.__version__


def test_the_changelog_keeps_an_unreleased_section_above_the_declared_release():
    headings = re.findall(r"^## \[([^\]]+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[:2] == ["Unreleased", DECLARED], headings
