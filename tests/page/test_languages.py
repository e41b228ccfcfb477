"""The page in the visitor's language, in real headless Chromium: its scripts speak it too, Arabic reads right to
left, the switch changes it, and the API's messages stay English."""

from __future__ import annotations

import pytest

from tests.page.audit import violations
from tests.page.test_upload_page import Session, chromium, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


def two_non_images(tmp_path) -> list[str]:
    paths = []
    for name in ("notes.jpg", "list.png"):
        (tmp_path / name).write_text("not an image")
        paths.append(str(tmp_path / name))
    return paths


def test_a_german_browser_gets_the_page_and_its_scripts_in_german(chromium, server, tmp_path):  # noqa: F811
    session = Session(chromium, server.url, locale="de-DE", viewport={"width": 1280, "height": 900})
    page = session.open()
    try:
        assert page.get_attribute("html", "lang") == "de"
        assert page.locator("h1").inner_text() == "Den Hintergrund eines Fotos entfernen"
        page.set_input_files("#file", two_non_images(tmp_path))
        page.locator("body[data-state=idle]").wait_for(state="attached", timeout=60_000)
        assert page.locator("#queue .state").all_inner_texts() == ["Fehlgeschlagen", "Fehlgeschlagen"]
        assert page.locator("#queue-summary").inner_text() == "0 von 2 einen Blick wert"
        assert page.locator("#error-title").inner_text() == "Unsupported file format"  # the API's words, English
        assert violations(page) == []
        session.shot("40-german")
    finally:
        session.errors[:] = [e for e in session.errors if "415" not in e]
        session.close()


def test_arabic_reads_right_to_left_on_a_phone_and_the_switch_changes_the_language(chromium, server):  # noqa: F811
    session = Session(chromium, server.url, locale="ar", **Session.PHONE)
    page = session.open()
    try:
        assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        title = page.locator("h1").bounding_box()
        stage = page.locator(".stage").bounding_box()
        # right to left: the heading starts at the right edge of its panel
        assert stage["x"] + stage["width"] - (title["x"] + title["width"]) < 40
        assert violations(page) == []
        session.shot("41-arabic-phone")
        page.select_option("#lang", "en")
        page.click(".language button")
        page.locator("html[lang=en][dir=ltr]").wait_for(state="attached")
        assert page.locator("h1").inner_text() == "Remove the background of a photo"
        assert page.url.endswith("/?lang=en")
    finally:
        session.close()
