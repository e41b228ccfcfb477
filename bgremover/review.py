"""A folder's cut-outs for a person to check: one HTML contact sheet, least sure first, and a folder of the unsure.

The sheet is a single file that opens from disk and asks for nothing over the network: the before and after
thumbnails are inline (data: URIs, at most THUMB_SIDE px), and each cut-out links, relative to the sheet, to
its full-size output file (so the sheet stays with the output folder; moved alone it keeps its pictures
but loses the links).
"""

from __future__ import annotations

import io
import os
import shutil
from base64 import b64encode
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment
from PIL import Image

from bgremover.processing import decode as decoding
from bgremover.processing.segment import UNSURE_CERTAINTY

THUMB_SIDE = 240  # the long side of each thumbnail on the sheet, in px
TEMPLATE = "review_sheet.html.j2"  # package data next to this module


@dataclass(frozen=True)
class Entry:
    """One cut-out on the sheet: its source, its output file, how sure it is, and both thumbnails."""

    source: Path
    output: Path
    certainty: float
    before: str  # data: URI
    after: str  # data: URI

    @property
    def unsure(self) -> bool:
        """Below the threshold: worth a person's look."""
        return is_unsure(self.certainty)


def is_unsure(certainty: float) -> bool:
    """Whether a cut-out this sure is worth a person's look (below UNSURE_CERTAINTY)."""
    return certainty < UNSURE_CERTAINTY


def data_uri(image: Image.Image) -> str:
    """A thumbnail as a data: URI: WebP where it has an alpha channel (it keeps it), else JPEG."""
    image = image.copy()
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    if image.mode in ("RGBA", "LA", "PA"):
        image.convert("RGBA").save(buf, "WEBP", quality=80)
        mime = "image/webp"
    else:
        image.convert("RGB").save(buf, "JPEG", quality=80)
        mime = "image/jpeg"
    return f"data:{mime};base64,{b64encode(buf.getvalue()).decode('ascii')}"


def href(target: Path, sheet: Path) -> str:
    """The URL of `target` relative to the sheet's folder."""
    return quote(Path(os.path.relpath(target.resolve(), sheet.resolve().parent)).as_posix())


@dataclass
class Review:
    """Collects each finished cut-out; copies the unsure ones as they come, writes the sheet at the end."""

    sheet: Path | None
    unsure_dir: Path | None
    limits: decoding.Limits
    entries: list[Entry] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    unsure: int = 0

    def add(self, source: Path, data: bytes, output: Path, result: bytes, certainty: float) -> None:
        """Note one cut-out (source bytes and output bytes as written); an unsure one is copied at once."""
        if self.sheet is not None:
            before = Image.fromarray(decoding.decode(data, self.limits, fit=(THUMB_SIDE, THUMB_SIDE)).rgb)
            after = Image.open(io.BytesIO(result))
            self.entries.append(Entry(source, output, certainty, data_uri(before), data_uri(after)))
        if not is_unsure(certainty):
            return
        self.unsure += 1
        if self.unsure_dir is not None:
            self.unsure_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(output, self.unsure_dir / output.name)
            shutil.copyfile(source, self.unsure_dir / source.name)

    def fail(self, source: Path, message: str) -> None:
        """Note an image that gave no cut-out (listed at the foot of the sheet)."""
        self.failures.append((source, message))

    def write(self) -> None:
        """Write the sheet, if one was asked for: every cut-out by certainty, least sure first."""
        if self.sheet is None:
            return
        ordered = sorted(self.entries, key=lambda e: (e.certainty, str(e.source)))
        env = Environment(autoescape=True)
        html = env.from_string(files("bgremover").joinpath(TEMPLATE).read_text(encoding="utf-8")).render(
            entries=[(e, href(e.output, self.sheet)) for e in ordered],
            unsure=self.unsure,
            threshold=UNSURE_CERTAINTY,
            failures=self.failures,
        )
        self.sheet.parent.mkdir(parents=True, exist_ok=True)
        self.sheet.write_text(html, encoding="utf-8")
