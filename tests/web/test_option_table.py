"""The page, the CLI and OpenAPI are derived from the option table: each disagreement fails here."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from bgremover.cli import main
from bgremover.processing.decode import INPUT_MIMETYPES
from bgremover.processing.options import DEFAULT_QUALITY, OPTIONS, OPTIONS_BY_NAME
from bgremover.web.headers import RESULT_HEADERS

INTS = [spec for spec in OPTIONS if spec.kind == "int"]


def _input(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert found, f"the page has no input named {name}"
    return found.group(0)


def _select_values(html: str, name: str) -> list[str]:
    found = re.search(rf'<select[^>]*\bname="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"the page has no select named {name}"
    return [v for v in re.findall(r'<option value="([^"]*)"', found.group(1)) if v]


@pytest.fixture
def page(client) -> str:
    return client.get("/").get_data(as_text=True)


@pytest.fixture
def openapi(client) -> dict:
    return client.get("/openapi.json").get_json()


@pytest.mark.parametrize("spec", INTS, ids=lambda s: s.name)
def test_page_bounds_are_the_tables(page, spec):
    field = _input(page, spec.name)
    assert f'min="{spec.low}"' in field and f'max="{spec.high}"' in field


def test_page_choices_defaults_and_input_formats_are_the_tables(page):
    assert _select_values(page, "format") == OPTIONS_BY_NAME["format"].values
    assert _select_values(page, "refine") == OPTIONS_BY_NAME["refine"].values
    assert _select_values(page, "preset") == OPTIONS_BY_NAME["preset"].values
    assert re.search(r'<option value="standard" selected>', page)
    assert f'value="{OPTIONS_BY_NAME["trim_padding"].default}"' in _input(page, "trim_padding")
    quality = re.search(r'data-default-quality="([^"]*)"', page)
    assert quality and json.loads(quality.group(1).replace("&#34;", '"')) == DEFAULT_QUALITY
    assert re.search(r'accept="([^"]*)"', page).group(1).split(",") == list(INPUT_MIMETYPES.values())


@pytest.mark.parametrize("spec", OPTIONS, ids=lambda s: s.name)
def test_openapi_declares_each_option_as_the_table_does(openapi, spec):
    for path in ("/remove-background", "/remove-background-preview"):
        body = openapi["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert set(body["properties"]) == {*OPTIONS_BY_NAME, "file"}
        schema = body["properties"][spec.name]
        assert schema["description"] == spec.help
        if spec.kind == "int":
            assert schema["oneOf"][0]["minimum"] == spec.low and schema["oneOf"][0]["maximum"] == spec.high
        if spec.kind == "choice":
            pattern = re.compile(schema["pattern"])
            assert all(pattern.match(value) and pattern.match(value.upper()) for value in spec.choices)
            assert not pattern.match("no-such-" + spec.name)
    json_body = openapi["paths"]["/remove-background-base64"]["post"]["requestBody"]["content"]["application/json"]
    assert json_body["schema"]["properties"][spec.name]["description"] == spec.help


def test_openapi_result_headers_are_the_enum(openapi):
    headers = openapi["paths"]["/remove-background"]["post"]["responses"]["200"]["headers"]
    assert {str(h) for h in RESULT_HEADERS} <= set(headers)


@pytest.mark.parametrize("spec", OPTIONS, ids=lambda s: s.name)
def test_cli_help_offers_each_option_with_its_bounds(spec):
    text = " ".join(CliRunner().invoke(main, ["remove", "--help"], terminal_width=10_000).output.split())
    flag = "--" + spec.name.replace("_", "-")
    assert flag in text
    if spec.kind == "int":
        assert f"from {spec.low} to {spec.high}" in text
    if spec.kind == "choice":
        assert ", ".join(spec.values) in text
