"""The upload page's touch-up editor on a 4000 × 3000 photo, in real headless Chromium: does a stroke stall the page?

    python -m bench.editor [--width 4000] [--height 3000] [--moves 60] [--strokes 3]

A real server (gunicorn, the configured model) and Chromium are started as the page tests start them; the
most detailed evaluation photo, scaled to cover width × height, is uploaded through the page. Printed:
the time from choosing the file to an editable result (server processing included), then for each Erase
stroke (a 100 px brush dragged across the image in `--moves` pointer moves) the stroke's wall time, the
mean time per pointer move, and the longest gap between two painted frames while stroking (a
requestAnimationFrame loop in the page: that gap is what a person sees as a stall); then undo, and the
full-resolution PNG and JPEG downloads (click → file). Figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

from bench.speed import DATA
from tests.page.test_upload_page import FLAGS
from tests.services import AppServer, require_binary

FRAMES = """
window.__frames = [];
(function tick(t) { window.__frames.push(t); requestAnimationFrame(tick); })(0);
"""


def photo(width: int, height: int, folder: Path) -> Path:
    """The most detailed evaluation photo, scaled and cropped to cover width × height, as a JPEG file."""
    source = Path(os.environ.get("BGREMOVER_DATA", DATA)) / "dis5k-mini" / "images"
    largest = max(source.iterdir(), key=lambda p: Image.open(p).width * Image.open(p).height)
    image = ImageOps.fit(Image.open(largest).convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    path = folder / f"photo-{width}x{height}.jpg"
    image.save(path, "JPEG", quality=92)
    return path


def longest_frame_gap(page, since: float) -> float:
    """The longest interval (ms) between painted frames after `since` (a performance.now() instant)."""
    frames = page.evaluate(f"window.__frames.filter(t => t >= {since})")
    return max((b - a for a, b in itertools.pairwise(frames)), default=float("nan"))


def stroke(page, moves: int, fraction: float) -> tuple[float, float]:
    """One Erase stroke across the canvas at `fraction` of its height: (wall ms, longest frame gap ms)."""
    box = page.locator("#editor-canvas").bounding_box()
    y = box["y"] + box["height"] * fraction
    x0, x1 = box["x"] + box["width"] * 0.15, box["x"] + box["width"] * 0.85
    since = page.evaluate("performance.now()")
    started = time.perf_counter()
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move(x1, y, steps=moves)
    page.mouse.up()
    page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # painted
    wall = (time.perf_counter() - started) * 1000
    return wall, longest_frame_gap(page, since)


def timed_download(page) -> tuple[float, int, float]:
    """(ms from the click to the saved file, its size in bytes, the longest frame gap meanwhile in ms)."""
    since = page.evaluate("performance.now()")
    started = time.perf_counter()
    with page.expect_download(timeout=120_000) as download:
        page.click("#download")
    path = download.value.path()
    return (time.perf_counter() - started) * 1000, Path(path).stat().st_size, longest_frame_gap(page, since)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--strokes", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = require_binary("chromium", "/usr/bin")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = photo(args.width, args.height, folder)
        env = {"RATE_LIMIT_PREVIEW_PER_HOUR": "1000", "PROCESSING_TIMEOUT_S": "100"}
        node = AppServer(env, folder).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.add_init_script(FRAMES)
                page.goto(node.url + "/")
                started = time.perf_counter()
                page.set_input_files("#file", str(image))
                page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=300_000)
                ready = time.perf_counter() - started
                page.fill("#brush-size", "100")
                results = [stroke(page, args.moves, 0.35 + 0.1 * i) for i in range(args.strokes)]
                since = page.evaluate("performance.now()")
                t0 = time.perf_counter()
                page.keyboard.press("Control+z")
                page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                undo_ms = (time.perf_counter() - t0) * 1000
                undo_gap = longest_frame_gap(page, since)
                png_ms, png_bytes, png_gap = timed_download(page)
                page.select_option("#format", "JPEG")
                jpeg_ms, jpeg_bytes, jpeg_gap = timed_download(page)
                browser.close()
        finally:
            node.stop()
    walls = [w for w, _ in results]
    gaps = [g for _, g in results]
    print(f"photo {args.width}x{args.height}, brush 100 px, {args.moves} pointer moves per stroke")
    print(f"upload -> editable result: {ready:.1f} s (server processing included)")
    for i, (wall, gap) in enumerate(results, 1):
        print(f"stroke {i}: {wall:.0f} ms wall, {wall / args.moves:.1f} ms per move, longest frame gap {gap:.0f} ms")
    print(f"stroke median: {statistics.median(walls):.0f} ms wall, longest frame gap {max(gaps):.0f} ms")
    print(f"undo: {undo_ms:.0f} ms to painted, longest frame gap {undo_gap:.0f} ms")
    print(f"download PNG: {png_ms:.0f} ms, {png_bytes / 2**20:.1f} MiB, longest frame gap {png_gap:.0f} ms")
    print(f"download JPEG: {jpeg_ms:.0f} ms, {jpeg_bytes / 2**20:.1f} MiB, longest frame gap {jpeg_gap:.0f} ms")


if __name__ == "__main__":
    main()
