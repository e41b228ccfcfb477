"""`bgremover remove --review-sheet --unsure-dir` on real photos, and the sheet opened from disk in real Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from PIL import Image

from bgremover.processing import Limits, parse_options
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.review import Review, href
from tests.conftest import encode_image
from tests.page.test_upload_page import chromium  # noqa: F401 (fixture)
from tests.test_cli import bgremover

pytestmark = pytest.mark.slow
PHOTOS = ("GT01", "GT04", "GT08")  # alphamatting photos; GT04's cut-out is unsure, GT01's is not (checked below)


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory, data_dir):
    """One CLI run over three photos and a broken file: (tmp dir, the run, the expected certainty per photo)."""
    root = tmp_path_factory.mktemp("review")
    src = root / "in"
    src.mkdir()
    for stem in PHOTOS:
        shutil.copy(data_dir / "alphamatting-train-lowres" / "images" / f"{stem}.png", src / f"{stem}.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    done = bgremover(
        "remove",
        str(src),
        "-o",
        str(root / "out put"),
        "--review-sheet",
        str(root / "review" / "sheet.html"),
        "--unsure-dir",
        str(root / "to fix"),
    )
    return root, done


@pytest.fixture(scope="module")
def certainties(reviewed, engine) -> dict[str, float]:
    """Each photo's certainty as the engine (in this process) finds it with the default options."""
    root, _ = reviewed
    return {
        stem: engine.process((root / "in" / f"{stem}.png").read_bytes(), parse_options({})).certainty for stem in PHOTOS
    }


def test_unsure_dir_holds_the_unsure_cutouts_and_their_originals(reviewed, certainties):
    root, done = reviewed
    assert done.returncode == 1 and "3 done, 1 failed" in done.stderr, done.stderr
    unsure = sorted(stem for stem, value in certainties.items() if value < UNSURE_CERTAINTY)
    assert unsure and len(unsure) < len(PHOTOS), f"the photos no longer span the threshold: {certainties}"
    assert f"{len(unsure)} worth a look" in done.stderr
    copied = sorted(p.name for p in (root / "to fix").iterdir())
    assert copied == sorted([f"{stem}.png" for stem in unsure] + [f"{stem}-no-bg.png" for stem in unsure])
    for stem in unsure:
        assert (root / "to fix" / f"{stem}-no-bg.png").read_bytes() == (
            root / "out put" / f"{stem}-no-bg.png"
        ).read_bytes()
        assert (root / "to fix" / f"{stem}.png").read_bytes() == (root / "in" / f"{stem}.png").read_bytes()


def test_sheet_is_one_file_with_inline_pictures(reviewed):
    root, _ = reviewed
    assert sorted(p.name for p in (root / "review").iterdir()) == ["sheet.html"]
    html = (root / "review" / "sheet.html").read_text()
    assert html.count('src="data:image/') == 2 * len(PHOTOS)
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_href_is_relative_to_the_sheet_and_quoted(tmp_path):
    assert href(tmp_path / "out put" / "a#1.png", tmp_path / "review" / "sheet.html") == "../out%20put/a%231.png"
    assert href(tmp_path / "a.png", tmp_path / "sheet.html") == "a.png"


def test_names_are_escaped_and_ties_keep_the_path_order(tmp_path):
    """A file name is text on the sheet, never markup; equal certainties sort by source path."""
    data = encode_image(Image.new("RGB", (320, 240), "red"), "PNG")
    review = Review(tmp_path / "sheet.html", None, Limits())
    hostile = '<img src=x onerror="alert(1)">.png'
    for name in ("b.png", hostile, "a.png"):
        (tmp_path / name).write_bytes(data)
        review.add(tmp_path / name, data, tmp_path / name, data, 0.95)
    review.write()
    html = (tmp_path / "sheet.html").read_text()
    escaped = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;.png"
    assert "<img src=x" not in html and f">{escaped}</a>" in html
    positions = [html.index(f">{name}</a>") for name in (escaped, "a.png", "b.png")]  # "<" sorts before "a"
    assert positions == sorted(positions) and review.unsure == 0


def test_sheet_in_chromium_from_disk(reviewed, certainties, chromium):  # noqa: F811 (fixture)
    """Least sure first, the unsure marked in words and an icon, links to the outputs, nothing asked of a network."""
    root, _ = reviewed
    context = chromium.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((root / "review" / "sheet.html").as_uri())
    page.wait_for_load_state("load")
    entries = page.locator("li.entry")
    assert entries.count() == len(PHOTOS)
    shown = [float(entries.nth(i).get_attribute("data-certainty")) for i in range(len(PHOTOS))]
    expected = sorted(certainties.items(), key=lambda item: item[1])
    assert shown == pytest.approx([value for _, value in expected], abs=1e-4)
    for i, (stem, value) in enumerate(expected):
        entry = entries.nth(i)
        mark = entry.locator(".mark")
        if value < UNSURE_CERTAINTY:
            assert "unsure" in entry.get_attribute("class").split()
            assert mark.inner_text().strip() == "Worth a look" and mark.locator("svg").count() == 1
        else:
            assert mark.count() == 0 and "Worth a look" not in entry.inner_text()
        links = entry.locator("a").evaluate_all("links => links.map(a => a.href)")
        assert links and all(urlparse(link).scheme == "file" for link in links)
        assert {Path(unquote(urlparse(link).path)) for link in links} == {root / "out put" / f"{stem}-no-bg.png"}
        assert entry.locator(".output").inner_text() == f"{stem}-no-bg.png"
    assert page.evaluate("[...document.images].every(img => img.complete && img.naturalWidth > 0)")
    after = page.eval_on_selector(".after", "el => getComputedStyle(el).backgroundImage")
    assert "conic-gradient" in after
    assert "broken.png" in page.locator(".failures").inner_text()
    assert requests and requests[0].startswith("file://")
    assert [url for url in requests if not url.startswith(("file://", "data:"))] == []
    context.close()
