"""Triage of a batch in real headless Chromium against the real server: the unsure cut-outs first, marked and
counted, reached with the keyboard, touched up, and the touch-up in the ZIP of them all."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from bgremover.processing.segment import UNSURE_CERTAINTY
from tests.page.test_editor import MARGIN, pixels, stroke_across_subject
from tests.page.test_upload_page import Session, chromium, desktop, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow
BATCH_SECONDS = 400  # twelve photos, some of them through the cascade, on a busy machine


@pytest.fixture
def batch(data_dir) -> list[Path]:
    """Twelve real photos, a few of which the model is unsure of (the test checks that, it does not assume it)."""
    duts = sorted((data_dir / "duts-te-150" / "images").iterdir())
    mattes = {p.stem: p for p in (data_dir / "alphamatting-train-lowres" / "images").iterdir()}
    picked = duts[:8] + [p for p in duts if p.stem.endswith("00012797")]
    return picked + [mattes[name] for name in ("GT01", "GT04", "GT10")]


def wait_batch(session: Session) -> None:
    page = session.page
    page.locator("body[data-state=idle]").wait_for(state="attached", timeout=BATCH_SECONDS * 1000)
    page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=60_000)


def entries(page) -> list[dict]:
    """The queue as shown: each entry's file name, certainty, marks and whether it is the open one."""
    return page.evaluate(
        """Array.from(document.querySelectorAll('#queue .entry')).map(li => ({
            name: li.querySelector('.name').textContent,
            certainty: li.dataset.certainty === '' ? null : Number(li.dataset.certainty),
            unsure: !li.querySelector('.mark.unsure').hidden,
            unsureText: li.querySelector('.mark.unsure').textContent.trim(),
            reviewed: !li.querySelector('.mark.reviewed').hidden,
            current: li.querySelector('button').getAttribute('aria-current') === 'true',
            id: li.querySelector('button').id,
        }))"""
    )


def thumbnail(page, entry_id: str) -> dict:
    """The entry's thumbnail: its size, source and the alpha of its top-left pixel (read back in the page)."""
    return page.evaluate(
        """id => { const img = document.querySelector('#' + id + ' img');
            const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
            const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
            return { src: img.src, width: img.naturalWidth, height: img.naturalHeight,
                     corner: ctx.getImageData(0, 0, 1, 1).data[3] }; }""",
        entry_id,
    )


def test_a_batch_shows_the_unsure_first_and_a_touch_up_reaches_the_zip(desktop, server, batch):  # noqa: F811
    page = desktop.open()
    page.set_input_files("#file", [str(p) for p in batch])
    wait_batch(desktop)
    shown = entries(page)
    assert sorted(e["name"] for e in shown) == sorted(p.name for p in batch)
    assert all(e["certainty"] is not None for e in shown)
    unsure = [e for e in shown if e["certainty"] < UNSURE_CERTAINTY]
    assert 0 < len(unsure) < len(batch), "the batch must mix sure and unsure cut-outs"
    # the order defaults to "worth a look first" (least sure on top); each is marked in words, not colour alone
    assert page.input_value("#queue-order") == "unsure"
    assert shown[: len(unsure)] == unsure
    assert [e["certainty"] for e in unsure] == sorted(e["certainty"] for e in unsure)
    assert all(e["unsure"] == (e["certainty"] < UNSURE_CERTAINTY) for e in shown)
    assert {e["unsureText"] for e in unsure} == {"⚠ Worth a look"}
    summary = f"{len(unsure)} of {len(batch)} worth a look"
    assert page.locator("#queue-summary").inner_text() == summary
    desktop.shot("20-triage-batch")

    # the certainty the page shows is the server's own, and it appears on hover and on focus
    first = unsure[0]
    path = next(p for p in batch if p.name == first["name"])
    with path.open("rb") as f:
        answer = requests.post(f"{server.url}/remove-background-preview", files={"file": f}, timeout=120)
    assert float(answer.headers["X-Cutout-Certainty"]) == pytest.approx(first["certainty"], abs=1e-4)
    tip = page.locator(f"#{first['id']} + .tip")
    assert tip.is_hidden()
    page.hover(f"#{first['id']}")
    shown_as = math.floor(first["certainty"] * 100 + 1e-9) / 100  # two decimals, cut (never rounded up)
    assert tip.is_visible() and f"Certainty {shown_as:.2f}" in tip.inner_text()
    assert f"below {UNSURE_CERTAINTY:.2f}" in tip.inner_text()
    page.keyboard.press("Escape")  # dismissed without moving the pointer
    assert tip.is_hidden()
    page.mouse.move(0, 0)
    assert page.get_attribute(f"#{first['id']}", "aria-describedby") == tip.get_attribute("id")

    # every entry shows its cut-out, small, with the background gone
    for e in shown:
        thumb = thumbnail(page, e["id"])
        assert thumb["src"].startswith("blob:") and max(thumb["width"], thumb["height"]) <= 192
    assert sum(thumbnail(page, e["id"])["corner"] == 0 for e in shown) >= len(shown) // 2

    # Alt+N and Alt+P go through the unsure, in the order shown, from the open entry (the first added)
    assert [e["name"] for e in shown if e["current"]] == [batch[0].name]
    page.keyboard.press("Alt+n")
    assert entries(page)[0]["current"] and page.evaluate("document.activeElement.id") == unsure[0]["id"]
    assert tip.is_visible()  # on keyboard focus too
    page.keyboard.press("Alt+n")
    assert page.evaluate("document.activeElement.id") == unsure[1]["id"]
    page.keyboard.press("Alt+p")
    assert page.evaluate("document.activeElement.id") == unsure[0]["id"]
    assert "Worth a look 1 of" in page.locator("#status").inner_text()
    page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=30_000)

    # a touch-up of the open one: marked reviewed, its thumbnail redrawn, kept when another is opened
    before = pixels(desktop.result_bytes())
    old_thumb = thumbnail(page, unsure[0]["id"])["src"]
    distance, radius = stroke_across_subject(page, before, "erase")
    page.locator(f"#{unsure[0]['id']} .mark.reviewed").wait_for(state="visible")
    assert page.locator("#queue-summary").inner_text() == summary + " · 1 reviewed"
    for _ in range(50):  # the thumbnail follows the touch-up after a short pause
        if thumbnail(page, unsure[0]["id"])["src"] != old_thumb:
            break
        page.wait_for_timeout(100)
    assert thumbnail(page, unsure[0]["id"])["src"] != old_thumb
    page.click(f"#{unsure[1]['id']}")
    page.locator("body[data-editor=ready]").wait_for(state="attached", timeout=30_000)
    desktop.shot("21-triage-reviewed")

    with page.expect_download(timeout=120_000) as download:
        page.click("#download-all")
    edited_stem = Path(unsure[0]["name"]).stem
    with zipfile.ZipFile(download.value.path()) as archive:
        names = archive.namelist()
        assert len(names) == len(batch) and archive.testzip() is None
        assert [n for n in names if "-edited" in n] == [f"{edited_stem}-edited-no-bg.png"]
        edited = pixels(archive.read(f"{edited_stem}-edited-no-bg.png"))
        untouched = pixels(archive.read(f"{Path(unsure[1]['name']).stem}-no-bg.png"))
    inside, outside = distance <= radius - MARGIN, distance >= radius + MARGIN
    assert (before[inside, 3] == 255).sum() > 100  # the stroke crossed the subject …
    assert (edited[inside, 3] == 0).all()  # … the ZIP has it erased there …
    assert np.array_equal(edited[outside], before[outside])  # … and the cut-out as it was elsewhere
    assert untouched[:, :, 3].max() == 255 and untouched.shape[2] == 4
    assert re.fullmatch(r"Saved \d+ images in bgremover-results\.zip\.", page.locator("#status").inner_text())
