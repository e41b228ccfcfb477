"""The touch-up editor in real headless Chromium against the real server: brushes, undo, backgrounds, shadow."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tests.page.test_upload_page import Session, chromium, desktop, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow
MARGIN = 1.0  # image pixels either side of the brush's edge left to pointer rounding


@pytest.fixture
def photo(data_dir) -> Path:
    return data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")).astype(int)


def view(page) -> tuple[float, float, float, dict]:
    """zoom, x, y (CSS px = offset + image px × zoom) and the canvas's box on the page."""
    zoom, x, y = map(float, page.get_attribute("#editor-canvas", "data-view").split())
    return zoom, x, y, page.locator("#editor-canvas").bounding_box()


def stroke_across_subject(page, rgba: np.ndarray, tool: str, size: int = 40) -> tuple[np.ndarray, float]:
    """A hard-edged stroke along the subject's widest opaque row: each pixel's distance to it, and the radius."""
    page.click(f"#tool-{tool}")
    page.fill("#brush-size", str(size))
    page.fill("#brush-soft", "0")
    zoom, ox, oy, box = view(page)
    opaque = rgba[:, :, 3] == 255
    row = int(np.argmax(opaque.sum(axis=1)))
    cols = np.flatnonzero(opaque[row])
    # whole CSS pixels on the page, so that the pointer lands where it is sent
    y_css = round(box["y"] + oy + (row + 0.5) * zoom)
    x0_css = round(box["x"] + ox + (cols[0] + 0.3 * (cols[-1] - cols[0])) * zoom)
    x1_css = round(box["x"] + ox + (cols[0] + 0.7 * (cols[-1] - cols[0])) * zoom)
    page.mouse.move(x0_css, y_css)
    page.mouse.down()
    page.mouse.move(x1_css, y_css, steps=10)
    page.mouse.up()
    to_image = lambda css, origin, offset: (css - origin - offset) / zoom  # noqa: E731
    ax, bx = to_image(x0_css, box["x"], ox), to_image(x1_css, box["x"], ox)
    y = to_image(y_css, box["y"], oy)
    ys, xs = np.mgrid[0 : rgba.shape[0], 0 : rgba.shape[1]] + 0.5
    dx = np.clip(xs, ax, bx) - xs
    return np.hypot(dx, ys - y), size / 2 / zoom


def test_erase_restore_undo_and_redo_act_on_the_full_resolution_pixels(desktop, photo):  # noqa: F811
    page = desktop.open()
    page.set_input_files("#file", str(photo))
    desktop.wait_done()
    before = pixels(desktop.result_bytes())
    assert before.shape[:2] == Image.open(photo).size[::-1]

    distance, radius = stroke_across_subject(page, before, "erase")
    erased = pixels(desktop.result_bytes())
    inside, outside = distance <= radius - MARGIN, distance >= radius + MARGIN
    assert (before[inside, 3] == 255).sum() > 200  # the stroke crossed the opaque subject …
    assert (erased[inside, 3] == 0).all()  # … and made it transparent within the brush
    assert np.array_equal(erased[outside], before[outside])  # and nothing else changed
    assert "touched up" in page.locator("#result-info").inner_text()
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "car-1-edited-no-bg.png"
    desktop.shot("11-erased")

    distance, radius = stroke_across_subject(page, erased, "restore")
    restored = pixels(desktop.result_bytes())
    inside, outside = distance <= radius - MARGIN, distance >= radius + MARGIN
    original = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    assert (restored[inside, 3] == 255).all()
    assert np.abs(restored[inside, :3] - original[inside]).max() <= 2  # the original's own colours (decoders agree)
    assert np.array_equal(restored[outside], erased[outside])

    page.keyboard.press("Control+z")
    assert np.array_equal(pixels(desktop.result_bytes()), erased)
    page.keyboard.press("Control+z")
    assert np.array_equal(pixels(desktop.result_bytes()), before)
    assert page.is_disabled("#undo")
    page.keyboard.press("Control+Shift+z")
    assert np.array_equal(pixels(desktop.result_bytes()), erased)
    page.click("#redo")
    assert np.array_equal(pixels(desktop.result_bytes()), restored)


def test_swatch_picker_photo_and_blur_backgrounds_and_the_shadow(desktop, photo, tmp_path):  # noqa: F811
    page = desktop.open()
    page.set_input_files("#file", str(photo))
    desktop.wait_done()
    cutout = pixels(desktop.result_bytes())
    subject, clear = cutout[:, :, 3] == 255, cutout[:, :, 3] == 0

    page.get_by_role("button", name="Sky blue", exact=True).click()
    assert page.get_attribute(".swatch[data-color='#81d4fa']", "aria-pressed") == "true"
    on_blue = pixels(desktop.result_bytes())
    assert (on_blue[clear] == [0x81, 0xD4, 0xFA, 255]).all()
    assert np.array_equal(on_blue[subject], cutout[subject])

    page.fill("#bg_color", "#123456")  # the real colour picker
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "car-1-on-123456.png"
    assert (pixels(Path(download.value.path()).read_bytes())[clear] == [0x12, 0x34, 0x56, 255]).all()

    backdrop = tmp_path / "backdrop.png"  # left half red, right half blue; 2:1, so it is cropped to cover 4:3
    halves = np.zeros((100, 200, 3), np.uint8)
    halves[:, :100] = (255, 0, 0)
    halves[:, 100:] = (0, 0, 255)
    Image.fromarray(halves).save(backdrop)
    page.set_input_files("#bg_photo", str(backdrop))
    page.locator("input[name=bg_mode][value=photo]:checked").wait_for(state="attached")
    on_photo = pixels(desktop.result_bytes())
    width = on_photo.shape[1]
    left, right = clear & (np.arange(width) < width * 0.3), clear & (np.arange(width) > width * 0.7)
    assert np.abs(on_photo[left] - [255, 0, 0, 255]).max() <= 1
    assert np.abs(on_photo[right] - [0, 0, 255, 255]).max() <= 1
    desktop.shot("12-photo-background")

    page.check("input[name=bg_mode][value=blur]")
    on_blur = pixels(desktop.result_bytes())
    source = Image.open(photo).convert("RGB")
    sigma = 0.02 * max(source.size)  # compose.js BLUR_SHARE
    blurred = np.asarray(source.filter(ImageFilter.GaussianBlur(sigma))).astype(int)
    assert (on_blur[:, :, 3] == 255).all()
    off_blurred = np.abs(on_blur[clear][:, :3] - blurred[clear]).mean()
    off_sharp = np.abs(on_blur[clear][:, :3] - np.asarray(source).astype(int)[clear]).mean()
    assert off_blurred < 6 and off_blurred < off_sharp / 3  # the original behind, blurred

    page.check("input[name=bg_mode][value=transparent]")
    page.check("#shadow")
    shadowed = pixels(desktop.result_bytes())
    cast = clear & (shadowed[:, :, 3] > 0)
    assert cast.sum() > 500 and (shadowed[cast, :3] == 0).all()  # a black, partly transparent shadow …
    rows = np.flatnonzero(cast.any(axis=1))
    assert rows.max() > np.flatnonzero(subject.any(axis=1)).max()  # … that falls below the subject
    assert np.array_equal(shadowed[subject], cutout[subject])
    desktop.shot("13-shadow")

    page.select_option("#format", "JPEG")
    page.get_by_role("button", name="Red", exact=True).click()
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "car-1-on-e53935-shadow.jpg"
    jpeg = Image.open(download.value.path())
    assert jpeg.format == "JPEG" and jpeg.size == (cutout.shape[1], cutout.shape[0])


def test_a_touch_stroke_erases_on_a_phone(chromium, server, photo):  # noqa: F811
    session = Session.phone(chromium, server.url)
    try:
        page = session.open()
        page.set_input_files("#file", str(photo))
        session.wait_done()
        before = pixels(session.result_bytes())
        page.locator("#editor-canvas").scroll_into_view_if_needed()
        zoom, ox, oy, box = view(page)
        opaque = before[:, :, 3] == 255
        row = int(np.argmax(opaque.sum(axis=1)))
        cols = np.flatnonzero(opaque[row])
        y = box["y"] + oy + (row + 0.5) * zoom
        xs = [box["x"] + ox + (cols[0] + f * (cols[-1] - cols[0])) * zoom for f in (0.3, 0.4, 0.5, 0.6, 0.7)]
        cdp = page.context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": xs[0], "y": y}]})
        for x in xs[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        after = pixels(session.result_bytes())
        assert ((before[:, :, 3] == 255) & (after[:, :, 3] == 0)).sum() > 200
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        session.shot("14-touched-up-phone")
    finally:
        session.close()
