"""Accessibility in real headless Chromium: axe-core finds no serious or critical violation in any state of the
page at desktop and phone widths, and the whole flow works with the keyboard alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.page.audit import require_axe, violations
from tests.page.test_editor import pixels
from tests.page.test_upload_page import Session, chromium, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow
PREVIEW = "**/remove-background-preview"
WIDTHS = {"desktop": {"viewport": {"width": 1280, "height": 900}}, "phone": Session.PHONE}


@pytest.fixture
def photos(data_dir):
    """Three real photos, one of which the model is unsure of (its queue entry carries the mark)."""
    duts = sorted((data_dir / "duts-te-150" / "images").iterdir())
    unsure = next(p for p in duts if p.stem.endswith("00000914"))
    return [data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg", unsure, duts[0]]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_serious_violation_when_empty_in_error_queued_and_editing(chromium, server, photos, tmp_path, width):  # noqa: F811
    require_axe()
    session = Session(chromium, server.url, **WIDTHS[width])
    page = session.open()
    try:
        assert violations(page) == [], "empty"

        fake = tmp_path / "notes.jpg"
        fake.write_text("not an image")
        page.set_input_files("#file", str(fake))
        page.locator("#error").wait_for(state="visible", timeout=30_000)
        assert violations(page) == [], "error"
        session.shot(f"30-axe-error-{width}")

        held: list = []  # the uploads wait here, so that the queue is audited with entries still waiting
        page.route(PREVIEW, lambda route: route.continue_() if held is None else held.append(route))
        page.set_input_files("#file", [str(p) for p in photos])
        page.locator("#queue-panel").wait_for(state="visible")
        assert "Waiting" in page.locator("#queue").inner_text()
        assert violations(page) == [], "queued"
        session.shot(f"31-axe-queued-{width}")
        waiting, held = held, None
        for route in waiting:
            route.continue_()

        page.locator("body[data-state=idle]").wait_for(state="attached", timeout=180_000)
        page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=60_000)
        assert page.locator("#queue .mark.unsure:visible").count() >= 1  # the marks are audited too
        assert violations(page) == [], "editing"
        session.shot(f"32-axe-editing-{width}")
    finally:
        session.errors[:] = [e for e in session.errors if "415" not in e]  # the browser logs the refused file
        session.close()


def tab_to(page, selector: str, limit: int = 150) -> None:
    """Press Tab until the element is focused, showing its focus; fail if the keyboard never reaches it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            assert page.evaluate("document.activeElement.matches(':focus-visible')"), selector
            return
    pytest.fail(f"Tab never reached {selector}")


def open_file_chooser(page):
    """The file chooser, opened from the focused file input by Enter or Space (under load, a key press here
    has at times opened no picker: the keys are tried in turn, the focus staying on the input)."""
    for key in ("Enter", "Space", "Enter"):
        try:
            with page.expect_file_chooser(timeout=10_000) as chooser:
                page.keyboard.press(key)
            return chooser.value
        except PlaywrightTimeout:
            assert page.evaluate("document.activeElement.id") == "file"
    pytest.fail("the keyboard never opened the file chooser")


def download_with_enter(page) -> tuple[str, np.ndarray]:
    tab_to(page, "#download")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    return download.value.suggested_filename, pixels(Path(download.value.path()).read_bytes())


def test_the_whole_flow_with_the_keyboard_alone(chromium, server, photos):  # noqa: F811
    session = Session(chromium, server.url, viewport={"width": 1280, "height": 900})
    page = session.open()
    try:
        tab_to(page, "#file")
        open_file_chooser(page).set_files(str(photos[0]))
        session.wait_done()

        # options: a background colour and the format
        tab_to(page, ".swatch[data-color='#81d4fa']")
        page.keyboard.press("Enter")
        assert page.is_checked("input[name=bg_mode][value=color]")
        tab_to(page, "#format")
        page.keyboard.press("ArrowDown")
        chosen = page.input_value("#format")
        assert chosen != ""
        extension = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[chosen]
        name, before = download_with_enter(page)
        assert name == f"car-1-on-81d4fa.{extension}"

        # the edit: a hard brush; the keyboard's brush, down at the centre of the image, drawn to the right, lifted
        tab_to(page, "#brush-soft")
        page.keyboard.press("Home")
        assert page.locator("#brush-soft-value").inner_text() == "0%"
        tab_to(page, "#editor-canvas")
        page.keyboard.press("Enter")
        for _ in range(12):
            page.keyboard.press("Shift+ArrowRight")
        page.keyboard.press("Enter")
        assert page.get_attribute("#editor-canvas", "data-brush").startswith("up ")
        assert page.is_enabled("#undo") and "touched up" in page.locator("#result-info").inner_text()
        name, after = download_with_enter(page)
        assert name == f"car-1-edited-on-81d4fa.{extension}", chosen
        changed = np.abs(after[:, :, :3] - before[:, :, :3]).max(axis=2) > 40
        assert changed.sum() > 500  # a band of the subject is gone …
        blue = np.abs(after[:, :, :3] - [0x81, 0xD4, 0xFA]).max(axis=2) <= 12
        assert blue[changed].mean() > 0.9  # … showing the chosen background
        ys, xs = np.nonzero(changed)
        assert xs.max() - xs.min() > 2 * (ys.max() - ys.min())  # a stroke along the row, not a dab

        page.keyboard.press("Control+z")  # undo from the keyboard too
        assert page.is_disabled("#undo")
        session.shot("33-keyboard-only")
    finally:
        session.close()
