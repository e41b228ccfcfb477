"""The header enum: each header named once, documented, and the one place views and CORS take names from."""

from __future__ import annotations

from bgremover.web.headers import DOCS, RATE_LIMIT_HEADERS, RESULT_HEADERS, Header


def test_every_header_is_documented_and_spelled_once():
    assert set(DOCS) == set(Header)
    assert all(header.doc and not header.doc.endswith(".") for header in Header)
    assert len({h.value.lower() for h in Header}) == len(Header)


def test_header_groups_are_members_of_the_enum():
    assert set(RESULT_HEADERS) | set(RATE_LIMIT_HEADERS) <= set(Header)
    assert not set(RESULT_HEADERS) & set(RATE_LIMIT_HEADERS)


def test_cors_exposes_every_header(make_app):
    client = make_app(cors_origins="http://shop.test").test_client()
    r = client.get("/health/live", headers={"Origin": "http://shop.test"})
    exposed = {h.strip().lower() for h in r.headers.get("Access-Control-Expose-Headers", "").split(",")}
    assert {h.value.lower() for h in Header} <= exposed
