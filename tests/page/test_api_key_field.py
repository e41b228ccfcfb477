"""With API keys required (and PAGE_PUBLIC off), the page asks for a key and sends it, in real Chromium."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bgremover.apikeys import hash_key, new_key
from tests.page.test_upload_page import Session, chromium  # noqa: F401 (chromium is a fixture)
from tests.services import AppServer

pytestmark = pytest.mark.slow


def test_the_page_asks_for_a_key_sends_it_and_keeps_it_for_the_tab(chromium, tmp_path, data_dir):  # noqa: F811
    photo = data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"
    key = new_key()
    node = AppServer({"API_KEYS": f"page:{hash_key(key)}", "LOG_FILE": str(tmp_path / "app.log")}, tmp_path).start()
    session = Session(chromium, node.url, viewport={"width": 1280, "height": 900})
    try:
        page = session.open()
        page.set_input_files("#file", str(photo))
        page.locator("#error").wait_for(state="visible", timeout=30_000)
        assert page.locator("#error-title").inner_text() == "An API key is required"
        session.errors[:] = [e for e in session.errors if "401" not in e]  # the browser logs the refused request

        page.fill("#api-key", key)
        page.locator("#api-key").dispatch_event("change")
        page.set_input_files("#file", str(photo))
        session.wait_done()
        assert page.locator("#error").is_hidden()
        cutout = Image.open(io.BytesIO(session.result_bytes()))
        assert cutout.format == "PNG" and cutout.mode == "RGBA"
        session.shot("10-api-key-field")

        page.reload()
        assert page.input_value("#api-key") == key  # kept in sessionStorage for this tab
        assert key not in page.content()  # never rendered into the page by the server
    finally:
        session.close()
        node.stop()
    log = (tmp_path / "app.log").read_text()
    assert '"api_key": "page"' in log and key not in log
