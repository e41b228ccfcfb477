"""The upload page in real headless Chromium against the real server (gunicorn, real model)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

from tests.services import ROOT, AppServer, require_binary

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "artifacts" / "screenshots"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def chromium():
    path = require_binary("chromium", "/usr/bin")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    node = AppServer(
        {"RATE_LIMIT_PREVIEW_PER_HOUR": "1000", "RATE_LIMIT_REMOVE_BG_PER_HOUR": "1000"},
        tmp_path_factory.mktemp("page"),
    ).start()
    yield node
    node.stop()


@pytest.fixture
def photo(data_dir) -> Path:
    return data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"


class Session:
    """A page plus what it did: every request's URL, script errors and console errors."""

    def __init__(self, browser, base_url: str, **context_args) -> None:
        self.context = browser.new_context(**context_args)
        self.page = self.context.new_page()
        self.base_url = base_url
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    # a phone's view of the page: 390 px wide, touch, twice the pixel density
    PHONE: ClassVar[dict] = {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    }

    @classmethod
    def phone(cls, browser, base_url: str) -> Session:
        """A session as a phone shows the page."""
        return cls(browser, base_url, **cls.PHONE)

    def open(self):
        self.page.goto(self.base_url + "/")
        return self.page

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def result_bytes(self) -> bytes:
        """The current result, as the Download button gives it to the user."""
        with self.page.expect_download() as download:
            self.page.click("#download")
        return Path(download.value.path()).read_bytes()

    def wait_done(self) -> None:
        """Until the queue is idle again and the editor holds the current result (app.js sets body[data-*])."""
        # a CSS wait: the page's CSP (no eval) rules out wait_for_function, as it should
        self.page.locator("body[data-state=idle]").wait_for(state="attached", timeout=90_000)
        self.page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=30_000)

    def close(self) -> None:
        local = [u for u in self.requests if not u.startswith(("blob:", "data:"))]
        hosts = {urlparse(u).hostname for u in local}
        assert hosts <= {"127.0.0.1"}, f"requests left localhost: {hosts}"
        assert not self.errors, f"script errors: {self.errors}"
        self.context.close()


@pytest.fixture
def desktop(chromium, server):
    session = Session(chromium, server.url, viewport={"width": 1280, "height": 900})
    yield session
    session.close()


def legends_fit_on_one_line(page) -> bool:
    """A fieldset's legend that wraps straddles the fieldset's border: each must stay on one line."""
    script = """Array.from(document.querySelectorAll('legend')).every(
        l => l.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(l).lineHeight))"""
    return page.evaluate(script)


def test_upload_shows_a_transparent_cutout_and_downloads_it(desktop, photo):
    page = desktop.open()
    assert legends_fit_on_one_line(page)
    desktop.shot("01-empty-desktop")
    page.set_input_files("#file", str(photo))
    desktop.wait_done()
    desktop.shot("02-result-desktop")
    cutout = Image.open(io.BytesIO(desktop.result_bytes()))
    alpha = np.asarray(cutout.convert("RGBA"))[:, :, 3]
    assert cutout.format == "PNG" and alpha[3, 3] == 0 and alpha.max() == 255  # corner is background
    assert cutout.size == Image.open(photo).size  # full resolution
    box = page.locator("#editor-canvas").bounding_box()
    zoom, x, y = map(float, page.get_attribute("#editor-canvas", "data-view").split())
    # at first the whole image is fitted to the canvas: it fills one side and fits within the other
    assert x >= -0.5 and y >= -0.5 and cutout.width * zoom <= box["width"] + 0.5
    assert cutout.height * zoom <= box["height"] + 0.5
    assert min(abs(cutout.width * zoom - box["width"]), abs(cutout.height * zoom - box["height"])) < 1
    info = page.locator("#result-info").inner_text()
    assert "→" in info and ("smaller" in info or "larger" in info) and f"{cutout.width}×{cutout.height}" in info
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "car-1-no-bg.png"
    saved = download.value.path()
    assert Image.open(saved).size == cutout.size


def test_preset_and_background_colour_change_the_result(desktop, photo):
    page = desktop.open()
    page.set_input_files("#file", str(photo))
    desktop.wait_done()
    page.select_option("#preset", "web")
    assert "JPEG" in page.locator("#result-info").inner_text()
    assert Image.open(io.BytesIO(desktop.result_bytes())).format == "JPEG"
    page.select_option("#preset", "")
    page.fill("#bg_color", "#00ff00")  # the colour picker (fill sets it and fires input)
    assert page.is_checked("input[name=bg_mode][value=color]")
    assert "PNG" in page.locator("#result-info").inner_text()
    rgb = np.asarray(Image.open(io.BytesIO(desktop.result_bytes())).convert("RGB"))
    assert tuple(rgb[3, 3]) == (0, 255, 0)
    desktop.shot("03-green-background")


def test_phone_width(chromium, server, photo):
    session = Session.phone(chromium, server.url)
    try:
        page = session.open()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert legends_fit_on_one_line(page)
        page.set_input_files("#file", str(photo))
        session.wait_done()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.locator("#download").is_visible()
        session.shot("04-result-phone")
    finally:
        session.close()


def test_a_non_image_shows_the_api_message_beside_the_image(desktop, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not an image")
    page = desktop.open()
    page.set_input_files("#file", str(fake))
    page.locator("#error").wait_for(state="visible", timeout=30_000)
    assert page.locator("#error-title").inner_text() == "Unsupported file format"
    assert "JPEG, PNG" in page.locator("#error-solution").inner_text()
    desktop.shot("05-error-not-an-image")
    desktop.errors[:] = [e for e in desktop.errors if "415" not in e]  # the browser logs the failed request


def test_rate_limit_message_says_how_long_to_wait(chromium, tmp_path, photo):
    node = AppServer({"RATE_LIMIT_PREVIEW_PER_HOUR": "1"}, tmp_path).start()
    session = Session(chromium, node.url, viewport={"width": 1280, "height": 900})
    try:
        page = session.open()
        page.set_input_files("#file", str(photo))
        session.wait_done()
        page.set_input_files("#file", str(photo))
        page.locator("#error").wait_for(state="visible", timeout=30_000)
        assert "limit" in page.locator("#error-title").inner_text()
        assert "Try again in 60 minutes" in page.locator("#error-solution").inner_text()
        session.shot("06-rate-limited")
        session.errors[:] = [e for e in session.errors if "429" not in e]
    finally:
        session.close()
        node.stop()


def test_queue_of_two_and_download_all(desktop, photo, data_dir):
    second = sorted((data_dir / "duts-te-150" / "images").iterdir())[0]
    page = desktop.open()
    page.set_input_files("#file", [str(photo), str(second)])
    desktop.wait_done()
    assert page.locator(".queue .state").all_inner_texts() == ["Done", "Done"]
    desktop.shot("07-queue")
    with page.expect_download() as download:
        page.click("#download-all")
    with zipfile.ZipFile(download.value.path()) as archive:
        names = archive.namelist()
        assert names == ["car-1-no-bg.png", f"{second.stem}-no-bg.png"]
        assert archive.testzip() is None
        Image.open(io.BytesIO(archive.read(names[1]))).verify()


def test_keyboard_and_screen_reader_basics(desktop):
    page = desktop.open()
    for field in (
        "Preset",
        "Format",
        "Edge refinement",
        "Width",
        "Height",
        "Margin (pixels)",
        "Quality",
        "Compare original and result",
        "Brush size",
        "Soft edge",
        "Any colour",
        "Background photo",
    ):
        assert page.get_by_label(field, exact=True).count() == 1
    for name in ("Erase", "Restore", "Undo", "Redo", "Zoom in", "Zoom out"):
        assert page.get_by_role("button", name=name, exact=True, include_hidden=True).count() == 1
    assert page.locator("#status[role=status][aria-live=polite]").count() == 1
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "file"


def test_without_javascript_the_form_still_downloads(chromium, server, photo):
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(server.url + "/")
        page.set_input_files("#file", str(photo))
        with page.expect_download() as download:
            page.click("#submit")
        assert download.value.suggested_filename == "car-1-no-bg.png"
        assert Image.open(download.value.path()).mode == "RGBA"
    finally:
        context.close()
