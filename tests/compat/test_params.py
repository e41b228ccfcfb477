"""The translation tables: remove.bg's and rembg's fields to our Options and layout, and their 400s."""

from __future__ import annotations

import pytest

from bgremover.compat import rembg, removebg
from bgremover.compat.fields import ignored
from bgremover.errors import InvalidOption
from bgremover.processing.layout import Arrange, AutoFormat, Backdrop, Length, PixelCap
from bgremover.processing.matting import BandMatting


def job(**fields):
    return removebg.parse(fields, default_model="u2netp")


def test_removebg_defaults_are_remove_bgs():
    j = job()
    assert j.max_pixels == 250_000  # size=preview
    assert (j.type, j.format, j.roi, j.crop, j.scale, j.position, j.alpha_only) == (
        "auto", None, None, False, None, None, False,
    )  # fmt: skip
    assert j.options.refine == "standard" and j.options.bg_color is None and j.options.model == "u2netp"


@pytest.mark.parametrize(
    ("size", "cap"),
    [("preview", 250_000), ("Small", 250_000), ("regular", 250_000), ("medium", 1_500_000), ("hd", 4_000_000),
     ("full", None), ("4k", None), ("50MP", None), ("auto", None)],
)  # fmt: skip
def test_sizes(size, cap):
    assert job(size=size).max_pixels == cap


def test_size_cap_becomes_a_fit_box_only_when_the_image_is_larger():
    cap = job(size="preview").to_job().step("fit")
    assert isinstance(cap, PixelCap) and cap.max_pixels == 250_000
    assert cap.options_for(job().options, 400, 300).max_width is None
    options = cap.options_for(job().options, 1200, 900)
    assert options.max_width == options.max_height == 577  # 1200 × sqrt(250000 / 1080000), floored
    assert job(size="full").to_job().step("fit") is None


def test_removebg_jobs_hold_the_steps_their_fields_ask_for():
    plain = job().to_job()
    assert [step.name for step in plain.steps] == ["fit", "layout", "format"]
    assert plain.step("layout") == Arrange()
    laid_out = job(crop="true", crop_margin="5px", scale="50%", format="png", size="full").to_job(background=b"bg")
    assert [step.name for step in laid_out.steps] == ["layout", "background"]
    assert laid_out.step("layout") == Arrange(None, True, (Length(5, False),) * 4, 0.5, (0.5, 0.5))
    assert laid_out.step("background") == Backdrop(b"bg")
    assert job(channels="alpha").to_job(background=b"bg").step("background") is None  # the matte has no background
    assert job(channels="alpha").to_job().step("format") == AutoFormat(alpha_only=True)


def test_formats_channels_and_type():
    assert job(format="jpg").format == "JPEG" and job(format="PNG").format == "PNG"
    zipped = job(format="zip", channels="alpha")
    assert zipped.format == "ZIP" and zipped.options.quality == 90 and not zipped.alpha_only
    assert job(channels="alpha").options.mask_only
    assert job(type="Car").type == "car"


@pytest.mark.parametrize(
    ("value", "rgba"),
    [("81d4fa", (129, 212, 250, 255)), ("#fff", (255, 255, 255, 255)), ("81d4fa77", (129, 212, 250, 119)),
     ("fff8", (255, 255, 255, 136)), ("green", (0, 128, 0, 255)), ("RED", (255, 0, 0, 255))],
)  # fmt: skip
def test_bg_colour_hex_with_or_without_hash_and_names(value, rgba):
    assert job(bg_color=value).options.bg_color == rgba


def test_lengths_positions_and_margins():
    j = job(roi="10px 5% 200px 100%", crop=True, crop_margin="10px 5%", scale="50%", position="0% 100%")
    assert j.roi == (Length(10, False), Length(5, True), Length(200, False), Length(100, True))
    assert j.crop and j.scale == 0.5 and j.position == (0.0, 1.0)
    assert j.margins == (Length(10, False), Length(5, True), Length(10, False), Length(5, True))
    assert job(crop_margin="30").margins == (Length(30, False),) * 4
    assert job(scale="80%").position == (0.5, 0.5)  # scaling implies centring…
    assert job(scale="80%", position="original").position is None  # …unless told otherwise
    assert job(position="25%").position == (0.25, 0.25)


def test_json_bodies_may_use_json_types():
    assert job(crop=True).crop and not job(crop=False).crop
    assert job(crop_margin=12).margins[0] == Length(12, False)


@pytest.mark.parametrize(
    "fields",
    [{"size": "huge"}, {"type": "spaceship"}, {"format": "gif"}, {"channels": "rgb"}, {"roi": "1 2 3"},
     {"roi": "0% 0% 150% 100%"}, {"crop": "maybe"}, {"crop_margin": "1px 2px 3px"}, {"crop_margin": "-5px"},
     {"scale": "5%"}, {"scale": "120%"}, {"scale": "half"}, {"position": "left"}, {"position": "1% 2% 3%"},
     {"bg_color": "notacolour"}, {"bg_color": "#12345"}, {"size": ["preview"]}],
)  # fmt: skip
def test_removebg_bad_values_are_400s_naming_the_field(fields):
    with pytest.raises(InvalidOption) as caught:
        job(**fields)
    assert caught.value.status == 400 and next(iter(fields)) in caught.value.message


def test_unknown_and_ignored_fields_change_nothing():
    ignored_fields = {name: "true" for name in ignored(removebg.FIELDS)}
    assert ignored(removebg.FIELDS) == ["type_level", "semitransparency", "shadow_type", "shadow_opacity"]
    assert job(**ignored_fields, whatever="x") == job()


def test_only_one_source_and_one_background():
    assert removebg.one_of({"image_file": True}, removebg.SOURCES, required=True) == "image_file"
    with pytest.raises(InvalidOption, match="No image given"):
        removebg.one_of({}, removebg.SOURCES, required=True)
    with pytest.raises(InvalidOption, match="Only one of"):
        removebg.one_of({"image_file": True, "image_url": True}, removebg.SOURCES, required=True)
    assert removebg.one_of({}, removebg.BACKGROUNDS, required=False) is None


def rembg_job(**fields):
    return rembg.parse(fields, default_model="u2netp")


def test_rembg_defaults_are_the_raw_mask_like_rembg():
    j = rembg_job()
    assert (j.options.refine, j.options.mask_only, j.options.bg_color, j.matting) == ("none", False, None, None)
    assert j.options.format == "PNG" and j.options.model == "u2netp"


def test_rembg_fields_map_to_our_options():
    assert rembg_job(ppm="true").options.refine == "standard"
    matted = rembg_job(a="true", af="200", ab="20", ae="5")
    assert matted.options.refine == "high" and matted.matting == (200, 20, 5)
    assert matted.to_job().steps == (BandMatting(200, 20, 5),) and rembg_job(ppm="true").to_job().steps == ()
    assert rembg_job(a="1").matting == (240, 10, 10)  # rembg's defaults
    assert rembg_job(om="true").options.mask_only
    assert rembg_job(bgc="255,0,0,128").options.bg_color == (255, 0, 0, 128)
    assert rembg_job(model="u2net").options.model == "u2net"  # whether it is installed is the engine's call
    assert rembg_job(dc="true", vm="true", extras='{"anything": 1}') == rembg_job()


@pytest.mark.parametrize(
    "fields",
    [{"a": "perhaps"}, {"af": "256"}, {"ab": "-1"}, {"ae": "x"}, {"om": "2"}, {"bgc": "255,0,0"},
     {"bgc": "300,0,0,255"}, {"model": "../etc"}],
)  # fmt: skip
def test_rembg_bad_values_are_400s_naming_the_field(fields):
    with pytest.raises(InvalidOption) as caught:
        rembg_job(**fields)
    assert caught.value.status == 400 and next(iter(fields)) in caught.value.message
