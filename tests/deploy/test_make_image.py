"""`make image` where its base image can be neither found nor pulled: advice, not the engine's raw error alone.

The base named here is on a loopback "registry" where nothing listens, so the pull fails at once, as it does on a
machine that reaches no registry; nothing is built.
"""

from __future__ import annotations

import re
import subprocess

from tests.deploy.container import Engine
from tests.services import ROOT

MISSING_BASE = "localhost/bgremover-no-such-base:never"


def test_an_unpullable_base_gives_the_way_out():
    engine = Engine.find()
    done = subprocess.run(
        ["make", "-C", str(ROOT), "image", f"ENGINE={engine.binary}", f"BASE_IMAGE={MISSING_BASE}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert f"the base image {MISSING_BASE} is not here and cannot be pulled" in done.stderr, done.stderr
    base_tag = re.search(r"^BASE_TAG\s*\?=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert f"make base-image && make image BASE_IMAGE={base_tag}" in done.stderr
    assert " build " not in done.stdout  # it stopped before the build
