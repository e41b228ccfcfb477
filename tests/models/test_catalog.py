"""Every model rembg registers has a row: its licence and the source that states it, and, where this server does not
run it, why not."""

from __future__ import annotations

import pytest
from packaging.licenses import canonicalize_license_expression
from rembg.sessions import sessions as rembg_sessions

from bgremover.models.catalog import CATALOG, UNSERVED, licence_of

EVERY = {**CATALOG, **UNSERVED}


@pytest.mark.parametrize("name", EVERY)
def test_each_model_has_a_licence_and_its_source(name):
    licence = EVERY[name].licence
    assert licence.source.startswith("https://"), licence
    if licence.name != "unknown":  # said where the source states none, never guessed
        assert canonicalize_license_expression(licence.name) == licence.name, f"{licence.name} is not SPDX"
    assert str(licence).startswith(licence.name) and str(licence).endswith(f", see {licence.source}")
    assert licence_of(name) == licence


def test_every_rembg_session_is_served_or_says_why_not():
    assert set(CATALOG) | set(UNSERVED) == set(rembg_sessions)
    assert not set(CATALOG) & set(UNSERVED)
    assert all(row.reason for row in UNSERVED.values())
    assert licence_of("no-such-model") is None


def test_the_u2nets_bgremover_ships_by_default_are_apache():
    assert {CATALOG[name].licence.name for name in ("u2netp", "u2net")} == {"Apache-2.0"}


def test_only_bria_rmbg_is_marked_non_commercial():
    """RMBG-2.0's licence (CC BY-NC 4.0) needs a paid agreement for commercial use; the others' do not."""
    assert {name for name, row in EVERY.items() if row.licence.noncommercial} == {"bria-rmbg"}
    assert "ACCEPT_NONCOMMERCIAL_MODELS" in str(CATALOG["bria-rmbg"].licence)
