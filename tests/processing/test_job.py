"""A job's steps: each step alone on a cut-out of plain arrays, and the engine running them at their place in ORDER."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image

from bgremover.errors import ForegroundNotFound, InvalidOption, UnsupportedFormat
from bgremover.processing import Job, Limits, Options, decode, matting
from bgremover.processing.job import ENGINE_STAGES, ORDER, Cutout
from bgremover.processing.layout import Arrange, AutoFormat, Backdrop, Length, PixelCap
from tests.conftest import encode_image


def cutout(alpha: np.ndarray, data: bytes = b"", **options) -> Cutout:
    """A cut-out of a per-column colour ramp and the given alpha, as the resize stage leaves it."""
    height, width = alpha.shape
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :, 0] = np.arange(width)[None, :] % 256
    return Cutout(data=data, options=Options(**options), limits=Limits(), rgb=rgb, alpha=alpha.astype(np.float32))


def square(height=100, width=200, box=(50, 20, 90, 60)) -> np.ndarray:
    alpha = np.zeros((height, width), np.float32)
    left, top, right, bottom = box
    alpha[top:bottom, left:right] = 1.0
    return alpha


def jpeg(width: int, height: int) -> bytes:
    return encode_image(Image.new("RGB", (width, height), "gray"), "JPEG")


def test_order_holds_the_engine_stages_in_their_order_and_each_name_once(engine):
    assert set(engine._stages) == set(ENGINE_STAGES)  # what the engine runs is what ORDER says it runs
    assert len(set(ORDER)) == len(ORDER)
    assert [name for name in ORDER if name in ENGINE_STAGES] == list(ENGINE_STAGES)
    assert ORDER[-2:] == ("compose", "encode")


@pytest.mark.parametrize("names", [("decode",), ("matting", "matting"), ("shadow-of-a-doubt",)])
def test_a_job_refuses_steps_out_of_order(names):
    @dataclass(frozen=True)
    class Named:
        name: str

        def run(self, cutout: Cutout) -> None: ...

    with pytest.raises(ValueError):
        Job(Options(), tuple(Named(name) for name in names))


def test_pixel_cap_sets_a_fit_box_from_the_header_only():
    step = PixelCap(250_000)
    big = cutout(square(), data=jpeg(1200, 900))
    step.run(big)
    assert big.options.max_width == big.options.max_height == 577 and big.rgb.shape == (100, 200, 3)
    small = cutout(square(), data=jpeg(400, 300))
    step.run(small)
    assert small.options == Options()


def test_arrange_keeps_the_region_crops_with_margins_and_reports_the_subject():
    work = cutout(square(), data=jpeg(200, 100))
    Arrange(roi=(Length(0, True), Length(0, True), Length(35, True), Length(100, True)), crop=True,
            margins=(Length(5, False),) * 4).run(work)  # fmt: skip
    assert work.alpha.shape == (40 + 10, 20 + 10)  # the subject's part left of x = 70, plus 5 px around
    assert work.subject == (5, 5, 25, 45) and work.alpha[5:45, 5:25].min() == 1.0


def test_arrange_scales_and_places_the_subject():
    work = cutout(square())
    Arrange(scale=0.5, position=(0.0, 1.0)).run(work)
    left, top, right, bottom = work.subject
    assert (left, bottom) == (0, 100) and max((right - left) / 200, (bottom - top) / 100) == pytest.approx(0.5)


def test_arrange_without_a_subject_is_remove_bgs_400_and_a_reversed_roi_another():
    with pytest.raises(ForegroundNotFound):
        Arrange().run(cutout(np.zeros((60, 80))))
    reversed_roi = (Length(50, True), Length(0, True), Length(10, True), Length(100, True))
    with pytest.raises(InvalidOption, match="roi"):
        Arrange(roi=reversed_roi).run(cutout(square(), data=jpeg(200, 100)))


def test_backdrop_covers_the_cut_out_with_its_transparency_over_white():
    pixels = np.zeros((60, 80, 4), np.uint8)
    pixels[:, :40] = (255, 0, 0, 255)  # opaque red on the left, transparent (black) on the right
    work = cutout(square())
    Backdrop(encode_image(Image.fromarray(pixels), "PNG")).run(work)
    assert work.background.shape == (100, 200, 3)
    assert tuple(work.background[50, 10]) == (255, 0, 0) and tuple(work.background[50, 190]) == (255, 255, 255)
    with pytest.raises(UnsupportedFormat):
        Backdrop(b"not an image").run(cutout(square()))


@pytest.mark.parametrize(
    ("alpha", "bg_color", "background", "alpha_only", "expected"),
    [(square(), None, False, False, "PNG"), (np.ones((20, 20)), None, False, False, "JPEG"),
     (square(), (0, 0, 0, 255), False, False, "JPEG"), (square(), (0, 0, 0, 128), False, False, "PNG"),
     (square(), None, True, False, "JPEG"), (np.ones((20, 20)), None, False, True, "PNG")],
)  # fmt: skip
def test_auto_format_is_png_only_where_something_shows_through(alpha, bg_color, background, alpha_only, expected):
    work = cutout(alpha, bg_color=bg_color)
    work.background = np.zeros((*alpha.shape, 3), np.uint8) if background else None
    AutoFormat(alpha_only).run(work)
    assert work.options.format == expected


def test_band_matting_step_replaces_the_alpha_by_band_matte():
    work = cutout(square())
    expected = matting.band_matte(work.rgb, work.alpha, 240, 10, 3)
    matting.BandMatting(240, 10, 3).run(work)
    assert np.array_equal(work.alpha, expected)


@dataclass(frozen=True)
class Recorder:
    """A step that notes what it saw: the timings so far and the cut-out's size."""

    name: str
    seen: list = field(default_factory=list, compare=False)

    def run(self, cutout: Cutout) -> None:
        self.seen.append((tuple(cutout.timings_ms), cutout.alpha.shape))


def test_the_engine_runs_each_step_at_its_place(engine, photo_bytes):
    """`matting` sees the full-size matte (before resize), `layout` the resized one (before compose)."""
    matte, laid_out = Recorder("matting"), Recorder("layout")
    result = engine.process(photo_bytes, Job(Options(max_width=240), (laid_out, matte)))
    assert matte.seen == [(("decode", "segment", "refine"), (360, 480))]
    assert laid_out.seen == [(("decode", "segment", "refine", "matting", "resize"), (180, 240))]
    assert list(result.timings_ms) == [
        "decode",
        "segment",
        "refine",
        "matting",
        "resize",
        "layout",
        "compose",
        "encode",
    ]
    assert decode.sniff(result.data) == "PNG" and (result.width, result.height) == (240, 180)


def test_steps_change_what_the_engine_composes(engine, photo_bytes):
    job = Job(Options(), (Arrange(crop=True), AutoFormat()))
    result = engine.process(photo_bytes, job)
    assert result.subject is not None and result.subject[:2] == (0, 0)
    assert (result.width, result.height) == (result.subject[2], result.subject[3]) and result.format == "PNG"
