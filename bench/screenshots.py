"""The upload page's screenshots in docs/img, taken in real headless Chromium against the real server.

    python -m bench.screenshots [--out docs/img]

rembg's car fixture (MIT) is uploaded, touched up with one Erase stroke, and shown on a colour with the
drop shadow: `editor-desktop.png` (1280 × 1000) and `editor-phone.png` (390 × 844 at 2×), then the options
panel on a phone (`options-phone.png`). Each is reduced to a 256-colour palette to stay small.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

from PIL import Image

from bench.speed import DATA, ROOT
from tests.page.test_upload_page import FLAGS
from tests.services import AppServer, require_binary


def save(png: bytes, path: Path) -> None:
    """A screenshot as a palette PNG (a few hundred KB at most)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"{path} {image.width}x{image.height} {path.stat().st_size // 1024} KB")


def touch_up(page, photo: Path) -> None:
    """Upload, one Erase stroke across the car's roof, a sky-blue background and the shadow."""
    page.set_input_files("#file", str(photo))
    page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=120_000)
    page.get_by_role("button", name="Sky blue", exact=True).click()
    page.check("#shadow")
    page.locator("#editor-canvas").scroll_into_view_if_needed()
    box = page.locator("#editor-canvas").bounding_box()
    y = box["y"] + box["height"] * 0.42
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()
    page.mouse.move(box["x"] + box["width"] * 0.72, box["y"] + box["height"] * 0.3)  # the brush outline shows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    photo = Path(os.environ.get("BGREMOVER_DATA", DATA)) / "rembg-fixtures" / "fixtures" / "car-1.jpg"
    from playwright.sync_api import sync_playwright

    chromium = require_binary("chromium", "/usr/bin")
    with tempfile.TemporaryDirectory() as tmp:
        node = AppServer({"RATE_LIMIT_PREVIEW_PER_HOUR": "1000"}, Path(tmp)).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(node.url + "/")
                touch_up(page, photo)
                page.locator(".editor-tools").evaluate("tools => tools.scrollIntoView()")
                page.evaluate("window.scrollBy(0, -24)")
                save(page.screenshot(), args.out / "editor-desktop.png")
                phone = browser.new_page(
                    viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
                )
                phone.goto(node.url + "/")
                touch_up(phone, photo)
                phone.locator(".editor-tools").scroll_into_view_if_needed()
                phone.evaluate("window.scrollBy(0, -12)")
                save(phone.screenshot(), args.out / "editor-phone.png")
                phone.locator("fieldset.size").scroll_into_view_if_needed()
                phone.evaluate("window.scrollBy(0, -60)")
                save(phone.screenshot(), args.out / "options-phone.png")
                browser.close()
        finally:
            node.stop()


if __name__ == "__main__":
    main()
