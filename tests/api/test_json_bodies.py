"""JSON bodies from strangers: deep nesting, huge structures, odd encodings, lone surrogates; never a 500."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bgremover.errors import InvalidOption
from bgremover.web import inputs
from tests.api.test_errors import assert_error
from tests.rss import peak_rss

BODY = 16 * 1024 * 1024 - 64  # just under the default MAX_CONTENT_LENGTH


def post_json(client, path: str, raw: bytes, content_type: str = "application/json"):
    return client.post(path, data=raw, content_type=content_type)


@pytest.mark.parametrize("path", ["/remove-background-base64", "/read-file"])
def test_nesting_100000_deep_is_a_400_not_a_recursion_error(make_app, tmp_path, path):
    """On a770b02 this was a 500 (RecursionError in the json module)."""
    client = make_app(read_file_dir=tmp_path, ratelimit_enabled=False).test_client()
    for raw in (b"[" * 100_000 + b"]" * 100_000, b'{"image": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001):
        body = assert_error(post_json(client, path, raw), 400, "invalid_parameter")
        assert "nested" in body["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"[" + b"[]," * (BODY // 3 - 1) + b"[]]",
        b'{"image": "QUFB", "a": [' + b"[]," * (BODY // 3 - 10) + b"[]]}",
        b"{" + b",".join(b'"k%d": 1' % i for i in range(2000)) + b"}",
    ],
    ids=["lists", "object-of-lists", "2000-keys"],
)
def test_large_structures_are_refused_before_parsing(client, raw):
    body = assert_error(post_json(client, "/remove-background-base64", raw), 400, "invalid_parameter")
    assert f"{inputs.MAX_JSON_TOKENS:,}" in body["details"]


def test_small_nested_extras_are_still_ignored(client, photo_bytes):
    """Unknown keys were ignored before this change and still are, nested a little or not."""
    image = base64.b64encode(photo_bytes).decode()
    raw = json.dumps({"image": image, "max_width": 200, "client": {"app": "x", "tags": [1, [2, {"k": "]]"}]]}})
    r = post_json(client, "/remove-background-base64", raw.encode())
    assert r.status_code == 200 and r.get_json()["width"] == 200


def test_utf16_json_is_a_400(client):
    raw = json.dumps({"image": "QUFB"}).encode("utf-16")
    body = assert_error(post_json(client, "/remove-background-base64", raw), 400, "invalid_parameter")
    assert "UTF-8" in body["error"]


@pytest.mark.parametrize("raw", [b"", b"{", b'{"image": "\\ud800', b"\xff\xfe\xfd", b'{"a": 1' + b"1" * 5000 + b"}"])
def test_broken_json_is_a_400(client, raw):
    assert_error(post_json(client, "/remove-background-base64", raw), 400, "invalid_parameter")


@pytest.mark.parametrize("path", ["\\ud800", "a\\udc80b.jpg", "\\udfff/x.jpg"])
def test_lone_surrogate_path_is_the_same_404_as_every_refusal(make_app, tmp_path, path):
    """On a770b02 "\\ud800" raised UnicodeEncodeError in os.open: a 500."""
    client = make_app(read_file_dir=tmp_path, ratelimit_enabled=False).test_client()
    surrogate = post_json(client, "/read-file", b'{"path": "%s"}' % path.encode())
    missing = post_json(client, "/read-file", b'{"path": "missing.jpg"}')
    assert_error(surrogate, 404)
    assert {**surrogate.get_json(), "request_id": ""} == {**missing.get_json(), "request_id": ""}


WORKER = """
from bgremover.app import create_app
from bgremover.settings import load_settings
# u2netp alone: the bounds were measured so, and the models play no part in parsing a body (with u2net's
# far larger allocations beside it, onnxruntime's worker once grew 70 MiB on the first case instead of ~36)
client = create_app(load_settings(_env_file=None, ratelimit_enabled=False, cascade_model="none")).test_client()
client.post("/remove-background-base64", json={"image": "QUFB"})  # warm: first-request imports
N = %d
bodies = {
    "lists": b"[" + b"[]," * (N // 3 - 1) + b"[]]",
    "object-of-lists": b'{"a": [' + b"[]," * (N // 3 - 4) + b"[]]}",
    "flat-with-an-emoji": '{"x": "\\U0001f600", "image": "'.encode() + b"QUFB" * (N // 4 - 12) + b'"}',
}
"""
POST = """
result = client.post("/remove-background-base64", data=bodies[%r], content_type="application/json").status_code
"""


@pytest.mark.slow
def test_a_16_mib_body_stays_bounded_in_a_worker():
    """Peak RSS growth of a real app handling one 16 MiB body (measured: 36, 36 and 100 MiB).

    On a770b02 `[[],…]` cost 402 MiB. The body of legal shape with one raw emoji costs what the json
    module needs for it: the whole body decoded at 4 bytes per character (64 MiB), before and after.
    The figures include the test client's own copy of the body.
    """
    bounds = {"lists": 64, "object-of-lists": 64, "flat-with-an-emoji": 128}
    peaks = peak_rss(WORKER % BODY, {name: POST % name for name in bounds})
    assert [peaks[name].result for name in bounds] == [400, 400, 415]
    for name, bound in bounds.items():
        assert peaks[name].growth < bound, f"{name}: peak RSS grew {peaks[name].growth:.0f} MiB"


def shape(value: object, depth: int = 0) -> tuple[int, int]:
    """(tokens as check_json_shape counts them, nesting depth) of a JSON value, from the Python side."""
    if isinstance(value, str):
        return 1 + value.count('"'), depth
    if isinstance(value, list | dict):
        items = [x for pair in value.items() for x in pair] if isinstance(value, dict) else value
        tokens = 2 + max(len(value) - 1, 0) + (len(value) if isinstance(value, dict) else 0)
        deepest = depth + 1
        for item in items:
            t, d = shape(item, depth + 1)
            tokens, deepest = tokens + t, max(deepest, d)
        return tokens, deepest
    return 0, depth


JSON_TEXT = st.text(alphabet=st.sampled_from('ab"\\[]{},: \u00e9\U0001f600'), max_size=12)
JSON_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(JSON_TEXT, inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_TREES, ascii_only=st.booleans())
@example(value=[[[[[[[[']]]]]]]]\\"{{{']]]]]]]], ascii_only=True)  # brackets and an escaped quote in a string
@example(value={'\\"': ['"' * 999]}, ascii_only=False)  # 1,000 tokens: at the bound
@pytest.mark.parametrize("bounds", [(60, 3), (inputs.MAX_JSON_TOKENS, inputs.MAX_JSON_DEPTH)])
def test_shape_check_agrees_with_the_parser(value, ascii_only, bounds):
    """Accepted exactly when the real token count and depth are within bounds; strings never fool it.

    Small bounds too, so that the random trees land on both sides of them.
    """
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    tokens, depth = shape(value)
    within = tokens <= bounds[0] and depth <= bounds[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inputs, "MAX_JSON_TOKENS", bounds[0])
        patch.setattr(inputs, "MAX_JSON_DEPTH", bounds[1])
        try:
            inputs.check_json_shape(raw)
            accepted = True
        except InvalidOption:
            accepted = False
    assert accepted == within, (tokens, depth)
