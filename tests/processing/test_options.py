"""Options: presets, overrides, booleans, and a 400 naming the option for every bad value."""

from __future__ import annotations

import pytest

from bgremover.errors import InvalidOption
from bgremover.processing.options import Options, parse_options
from bgremover.processing.presets import PRESETS


def test_defaults_are_a_lossless_png_and_not_shaped():
    options = parse_options({})
    assert options == Options()
    assert options.format == "PNG" and options.effective_quality == 100 and not options.shaped


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_fills_format_quality_and_box(name):
    preset = PRESETS[name]
    options = parse_options({"preset": name})
    assert (options.format, options.effective_quality) == (preset.format, preset.quality)
    assert (options.max_width, options.max_height) == (preset.max_width, preset.max_height)
    assert options.shaped


def test_explicit_options_override_a_preset():
    options = parse_options({"preset": "web", "quality": "55", "max_width": "300"})
    assert (options.format, options.quality, options.max_width, options.max_height) == ("JPEG", 55, 300, 800)


def test_format_aliases_and_case():
    assert parse_options({"format": "jpg"}).format == "JPEG"
    assert parse_options({"format": "Webp"}).format == "WEBP"


@pytest.mark.parametrize(
    "text,value",
    [
        ("true", True),
        ("1", True),
        ("YES", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("Off", False),
    ],
)
def test_booleans(text, value):
    assert parse_options({"trim": text}).trim is value
    assert parse_options({"mask_only": value}).mask_only is value


@pytest.mark.parametrize(
    "text,rgba", [("#fff", (255, 255, 255, 255)), ("00ff00", (0, 255, 0, 255)), ("#11223344", (0x11, 0x22, 0x33, 0x44))]
)
def test_colours(text, rgba):
    assert parse_options({"bg_color": text}).bg_color == rgba


@pytest.mark.parametrize(
    "raw",
    [
        {"format": "gif"},
        {"quality": "9"},
        {"quality": "101"},
        {"quality": "abc"},
        {"quality": 50.5},
        {"quality": True},
        {"max_width": "99"},
        {"max_height": "4001"},
        {"preset": "huge"},
        {"bg_color": "red"},
        {"bg_color": "#12345"},
        {"trim": "maybe"},
        {"trim_padding": "-1"},
        {"trim_padding": "501"},
        {"refine": "max"},
        {"mask_only": "2"},
        {"model": "../etc/passwd"},
        {"format": 5},
    ],
)
def test_bad_values_are_400s_naming_the_option(raw):
    (name,) = raw
    with pytest.raises(InvalidOption) as err:
        parse_options(raw)
    assert err.value.status == 400 and f"'{name}'" in err.value.message


def test_json_numbers_are_accepted():
    options = parse_options({"quality": 70, "max_width": 400.0, "trim_padding": 0})
    assert (options.quality, options.max_width, options.trim_padding) == (70, 400, 0)


def test_json_booleans_and_zero_one_integers():
    options = parse_options({"trim": True, "mask_only": 1})
    assert options.trim is True and options.mask_only is True
    assert parse_options({"trim": 0}).trim is False
    with pytest.raises(InvalidOption):
        parse_options({"trim": 2})


def test_a_preset_with_another_format_keeps_its_box_but_not_its_quality():
    options = parse_options({"preset": "web", "format": "png"})  # web is JPEG 80, 1200×800
    assert (options.format, options.quality, options.effective_quality) == ("PNG", None, 100)
    assert (options.max_width, options.max_height) == (1200, 800)
    assert parse_options({"preset": "web", "format": "jpeg"}).quality == 80  # its own format: quality kept


def test_presets_as_json():
    assert PRESETS["web"].to_dict() == {
        "format": "JPEG",
        "quality": 80,
        "max_width": 1200,
        "max_height": 800,
        "description": PRESETS["web"].description,
    }
