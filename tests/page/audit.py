"""axe-core, run in the page under test: the accessibility audit of the browser tests (a test-only npm package)."""

from __future__ import annotations

import os
from functools import cache

import pytest

from tests.services import ROOT

AXE = ROOT / "tests" / "page" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")  # the impacts that fail a test


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def require_axe() -> None:
    """Skip without the package (install it with `make dev`: npm ci in tests/page), fail so under CI=true."""
    if AXE.exists():
        return
    reason = f"axe-core is not installed at {AXE.relative_to(ROOT)} (make dev runs npm ci in tests/page)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def violations(page) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line per rule and element."""
    require_axe()
    # evaluated through the DevTools protocol: the page's CSP (no inline script) stays as it is
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source() + "\n;0")
    found = page.evaluate("axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations)")
    return [
        f"{v['id']} ({v['impact']}): {' '.join(map(str, node['target']))}: {v['help']}"
        for v in found
        if v["impact"] in BLOCKING
        for node in v["nodes"]
    ]
