"""The page in the visitor's language: complete shipped catalogues, the language choice, RTL, English API errors."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bgremover.web import i18n
from bgremover.web.pages import SCRIPT_MESSAGES
from tests.conftest import ROOT

SHIPPED = [code for code in i18n.LANGUAGES if code != i18n.DEFAULT]
METHODS = [("bgremover/web/pages.py", "python"), ("templates/**.html", "jinja2")]  # as babel.cfg says
# Text the same in every language: the name, symbols, numbers, and the presets' specs (format, quality, box)
SAME_EVERYWHERE = re.compile(r"bgremover|[✂−+⚠✓]|[\d%×.,\s]*|[\w ]+ — (PNG|JPEG|WEBP) \d+, .*")


def extracted() -> set[str]:
    """The page's messages as `make messages` extracts them, from the sources as they are now."""
    found = extract_from_dir(str(ROOT), METHODS, keywords={"_": None, "gettext": None, "_l": None})
    return {message for _, _, message, _, _ in found}


def catalogue(code: str):
    with (i18n.TRANSLATIONS / code / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=code)


def test_the_template_catalogue_has_every_string_of_the_page():
    with (i18n.TRANSLATIONS / "messages.pot").open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    assert template == extracted(), "run `make messages` and translate what it adds"


@pytest.mark.parametrize("code", SHIPPED)
def test_a_shipped_catalogue_translates_every_string(code):
    po = catalogue(code)
    messages = {m.id: m for m in po if m.id}
    assert set(messages) == extracted(), f"{code}: run `make messages`"
    untranslated = [m.id for m in messages.values() if not m.string or m.fuzzy]
    assert not untranslated, f"{code} leaves these in English: {untranslated}"
    for message in messages.values():  # the same %(name)s in the translation (a wrong one breaks the page)
        assert set(re.findall(r"%\((\w+)\)s", message.string)) == set(re.findall(r"%\((\w+)\)s", message.id))
    assert not [error for _, errors in po.check() for error in errors]


@pytest.mark.parametrize("code", SHIPPED)
def test_the_compiled_catalogue_is_the_po_file(code):
    with (i18n.TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == {m.id: m.string for m in catalogue(code) if m.id}, "run `make messages`"


class Texts(HTMLParser):
    """The text a visitor reads or hears: text nodes and the attributes that name or describe."""

    SPOKEN = ("aria-label", "title", "placeholder", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")
        self.texts += [value.strip() for name, value in attrs if name in self.SPOKEN and value]
        if tag == "meta" and ("name", "description") in attrs:
            self.texts.append(dict(attrs)["content"])

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.texts.append(" ".join(data.split()))


def page_texts(client, language: str) -> list[str]:
    parser = Texts()
    parser.feed(client.get("/", headers={"Accept-Language": language}).get_data(as_text=True))
    return parser.texts


def test_every_string_of_the_page_changes_with_the_language(client):
    """A string left out of the catalogue (not marked for translation) reads the same in every language."""
    english = page_texts(client, "en")
    others = [set(page_texts(client, code)) for code in SHIPPED]
    names = {language.name for language in i18n.LANGUAGES.values()}
    same = [t for t in english if all(t in o for o in others) and t not in names and not SAME_EVERYWHERE.fullmatch(t)]
    assert not same, f"not translated in any language: {same}"


def scripts_messages(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="page-messages">(.*?)</script>', html, re.S)
    assert found
    return json.loads(found.group(1))


@pytest.mark.parametrize("code", SHIPPED)
def test_the_script_messages_come_in_the_page_language(client, code):
    html = client.get("/", headers={"Accept-Language": code}).get_data(as_text=True)
    messages = scripts_messages(html)
    english = scripts_messages(client.get("/").get_data(as_text=True))
    assert set(messages) == set(SCRIPT_MESSAGES) == set(english)
    assert messages["worth_a_look"] != english["worth_a_look"] and messages["summary"] != english["summary"]


def test_every_message_the_scripts_use_is_in_the_catalogue():
    script = (ROOT / "static" / "app.js").read_text()
    direct = re.findall(r'\bt\(\s*"(\w+)"', script)  # t("key", …)
    chosen = re.findall(r'\bt\([^()"]*\?\s*"(\w+)"\s*:\s*"(\w+)"', script)  # t(cond ? "a" : "b", …)
    states = re.search(r"\bt\(\{([^}]*)\}\[item\.state\]\)", script)  # the queue's states
    assert direct and chosen and states
    keys = set(direct) | {key for pair in chosen for key in pair} | set(re.findall(r'"(\w+)"', states.group(1)))
    assert len(keys) > 40 and keys <= set(SCRIPT_MESSAGES), sorted(keys - set(SCRIPT_MESSAGES))
    assert not re.search(r'(setStatus|textContent =)\(?\s*"[A-Z]', script), "a message outside the catalogue"


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.5", "", "de"),
        ("fr-CA", "", "fr"),
        ("es", "", "es"),
        ("ar-EG", "", "ar"),
        ("ja, zh;q=0.5", "", "en"),
        ("", "", "en"),
        ("de", "?lang=es", "es"),  # the switch on the page wins
        ("de", "?lang=xx", "de"),  # an unknown one is ignored
    ],
)
def test_the_language_comes_from_the_switch_then_accept_language(client, accept, query, expected):
    response = client.get("/" + query, headers={"Accept-Language": accept} if accept else {})
    html = response.get_data(as_text=True)
    direction = i18n.LANGUAGES[expected].direction
    assert f'<html lang="{expected}" dir="{direction}">' in html
    assert response.headers["Content-Language"] == expected and "Accept-Language" in response.headers["Vary"]
    assert f'<option value="{expected}" lang="{expected}" selected>' in html


def test_arabic_is_right_to_left(client):
    html = client.get("/", headers={"Accept-Language": "ar"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html and "إزالة خلفية صورة" in html


def test_the_api_errors_stay_english(client):
    data = {"file": (io.BytesIO(b"not an image"), "notes.jpg")}
    answer = client.post("/remove-background-preview", data=data, headers={"Accept-Language": "de"})
    assert answer.status_code == 415
    assert answer.get_json()["error"] == "Unsupported file format"
    missing = client.post("/remove-background", data={}, headers={"Accept-Language": "fr"})
    assert missing.get_json()["error"] == "Missing parameter 'file'"
