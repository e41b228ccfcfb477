"""Every catalogue row names the licence of its weights and the source that states it."""

from __future__ import annotations

import pytest
from packaging.licenses import canonicalize_license_expression

from bgremover.models.catalog import CATALOG


@pytest.mark.parametrize("name", CATALOG)
def test_each_model_has_a_licence_and_its_source(name):
    licence = CATALOG[name].licence
    assert licence.source.startswith("https://"), licence
    if licence.name != "unknown":  # said where the source states none, never guessed
        assert canonicalize_license_expression(licence.name) == licence.name, f"{licence.name} is not SPDX"
    assert str(licence) == f"{licence.name}, see {licence.source}"


def test_the_u2nets_bgremover_ships_by_default_are_apache():
    assert {CATALOG[name].licence.name for name in ("u2netp", "u2net")} == {"Apache-2.0"}
