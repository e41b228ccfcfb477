"""remove.bg v1.0's `POST /removebg` fields → our Options plus the engine's layout steps (processing.layout)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import ImageColor

from bgremover.compat.fields import Field, choice, invalid, number_or_flag, text
from bgremover.errors import InvalidOption
from bgremover.processing import layout
from bgremover.processing.job import Job as EngineJob
from bgremover.processing.job import Step
from bgremover.processing.options import DEFAULT_QUALITY, Options

MP = 1_000_000
# Output caps per `size` (megapixels, downscale only); None: up to the server's own limits.
SIZES: dict[str, int | None] = {
    "preview": MP // 4,
    "small": MP // 4,
    "regular": MP // 4,
    "medium": 3 * MP // 2,
    "hd": 4 * MP,
    "full": None,
    "4k": None,
    "50mp": None,
    "auto": None,
}
TYPES = (
    "auto", "person", "product", "animal", "car", "car_interior", "car_part", "transportation", "graphic",
    "graphics", "other",
)  # fmt: skip
FORMATS: dict[str, str | None] = {
    "auto": None, "png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "zip": "ZIP",
}  # fmt: skip
CHANNELS = ("rgba", "alpha")
SOURCES = ("image_file", "image_file_b64", "image_url")
BACKGROUNDS = ("bg_color", "bg_image_file", "bg_image_url")
LENGTH = re.compile(r"(\d{1,6}(?:\.\d{1,4})?)(px|%)?", re.IGNORECASE)
PERCENT = re.compile(r"(\d{1,3}(?:\.\d{1,4})?)%")
HEX = re.compile(r"[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8}")

# fmt: off
FIELDS: tuple[Field, ...] = (
    Field("image_file", "Source image file (multipart)", kind="file"),
    Field("image_file_b64", "Source image as base64"),
    Field("image_url", "Source image URL (only when IMAGE_URL_ENABLED is on)"),
    Field("size", "Output size cap, downscale only: " + ", ".join(f"{name} {cap / MP:g} MP" for name, cap in
          SIZES.items() if cap) + "; the others up to the server's limits", "preview", tuple(SIZES)),
    Field("type", "Foreground type; reported in X-Type, the model does not use it", "auto", TYPES),
    Field("type_level", "Foreground type level", "1", ignored=True),
    Field("format", "auto (PNG if transparent, else JPG), png, jpg, webp, or zip (color.jpg + alpha.png)", "auto",
          tuple(FORMATS)),
    Field("roi", "Region of interest 'x1 y1 x2 y2' in px or %; outside it everything is background",
          "0% 0% 100% 100%"),
    Field("crop", "Crop to the subject", "false", kind="boolean"),
    Field("crop_margin", f"Margin around the cropped subject: 1, 2 or 4 values in px or % of the subject (each at "
          f"most {layout.MAX_MARGIN_SHARE:.0%} of the subject and {layout.MAX_MARGIN_PX}px)", "0"),
    Field("scale", "Subject size relative to the image, 10%–100%, or original", "original"),
    Field("position", "Subject position: original, center, 'x%' or 'x% y%'", "original"),
    Field("channels", "rgba (the cut-out) or alpha (the matte as grayscale)", "rgba", CHANNELS),
    Field("bg_color", "Background colour: hex (3, 4, 6 or 8 digits, '#' optional) or a colour name"),
    Field("bg_image_url", "Background image URL (only when IMAGE_URL_ENABLED is on)"),
    Field("bg_image_file", "Background image file, resized to cover the result", kind="file"),
    Field("semitransparency", "Semi-transparent regions", "true", ignored=True),
    Field("add_shadow", "Artificial shadow: a soft drop shadow under the subject (our `shadow` option)", "false",
          kind="boolean"),
    Field("shadow_type", "Shadow type", ignored=True),
    Field("shadow_opacity", "Shadow opacity", ignored=True),
)
# fmt: on
SPECS = {f.name: f for f in FIELDS}


@dataclass(frozen=True)
class Job:
    """One remove.bg request, translated: the engine's options and what to do with the cut-out afterwards."""

    options: Options
    max_pixels: int | None
    type: str
    format: str | None  # None: auto
    roi: tuple[layout.Length, layout.Length, layout.Length, layout.Length] | None
    crop: bool
    margins: tuple[layout.Length, layout.Length, layout.Length, layout.Length]
    scale: float | None
    position: tuple[float, float] | None
    alpha_only: bool

    def to_job(self, background: bytes | None = None) -> EngineJob:
        """The engine's job: these options and the steps remove.bg's fields ask for (`background`: image bytes)."""
        steps: list[Step] = []
        if self.max_pixels is not None:
            steps.append(layout.PixelCap(self.max_pixels))
        steps.append(layout.Arrange(self.roi, self.crop, self.margins, self.scale, self.position))
        if background is not None and not self.alpha_only:
            steps.append(layout.Backdrop(background))
        if self.format is None:
            steps.append(layout.AutoFormat(self.alpha_only))
        return EngineJob(self.options, tuple(steps))


def _length(name: str, value: str, capped: bool) -> layout.Length:
    match = LENGTH.fullmatch(value)
    if match is None:
        raise invalid(name, "lengths like 30px or 10%", value)
    relative = match.group(2) == "%"
    number = float(match.group(1))
    if capped and relative and number > 100:
        raise invalid(name, "percentages from 0% to 100%", value)
    return layout.Length(number, relative)


def _lengths(raw: Mapping[str, object], name: str, *, capped: bool) -> list[layout.Length] | None:
    """Lengths separated by spaces or commas; `capped`: percentages above 100% are refused (else clamped later)."""
    value = text(raw, SPECS[name])
    return None if value is None else [_length(name, part, capped) for part in re.split(r"[\s,]+", value)]


def _roi(raw: Mapping[str, object]) -> tuple[layout.Length, layout.Length, layout.Length, layout.Length] | None:
    parts = _lengths(raw, "roi", capped=True)
    if parts is None:
        return None
    if len(parts) != 4:
        raise invalid("roi", "four lengths 'x1 y1 x2 y2' (px or %)", text(raw, SPECS["roi"]))
    return parts[0], parts[1], parts[2], parts[3]


def _margins(raw: Mapping[str, object]) -> tuple[layout.Length, layout.Length, layout.Length, layout.Length]:
    parts = _lengths(raw, "crop_margin", capped=False) or [layout.Length(0, False)]
    if len(parts) == 1:
        parts *= 4
    elif len(parts) == 2:
        parts *= 2
    elif len(parts) != 4:
        raise invalid("crop_margin", "1, 2 or 4 lengths (px or %)", text(raw, SPECS["crop_margin"]))
    return parts[0], parts[1], parts[2], parts[3]


def _percent(name: str, value: str, low: float) -> float:
    match = PERCENT.fullmatch(value)
    if match is None or not low <= float(match.group(1)) <= 100:
        raise invalid(name, f"a percentage from {low:g}% to 100%", value)
    return float(match.group(1)) / 100


def _scale(raw: Mapping[str, object]) -> float | None:
    value = text(raw, SPECS["scale"])
    if value is None or value.lower() == "original":
        return None
    return _percent("scale", value, 10)


def _position(raw: Mapping[str, object], scaled: bool) -> tuple[float, float] | None:
    value = text(raw, SPECS["position"])
    if value is None:
        return (0.5, 0.5) if scaled else None
    if value.lower() == "original":
        return None
    if value.lower() == "center":
        return 0.5, 0.5
    parts = [_percent("position", part, 0) for part in value.split()]
    if len(parts) not in (1, 2):
        raise invalid("position", "original, center, 'x%' or 'x% y%'", value)
    return parts[0], parts[-1]


def parse_color(value: object) -> tuple[int, int, int, int]:
    """remove.bg's bg_color: hex with or without '#' (3, 4, 6 or 8 digits), or a colour name, as RGBA."""
    spec = SPECS["bg_color"]
    word = text({"bg_color": value}, spec) or ""
    if HEX.fullmatch(word):
        word = "#" + word
    try:
        rgba = ImageColor.getrgb(word)
    except ValueError:
        raise invalid("bg_color", "a hex colour (81d4fa, #fff, 81d4fa77) or a colour name (green)", value) from None
    return rgba if len(rgba) == 4 else (*rgba, 255)


def parse(raw: Mapping[str, object], *, default_model: str) -> Job:
    """Validate the fields (unknown ones are ignored, as remove.bg does) and translate them."""
    fmt = FORMATS[choice(raw, SPECS["format"])]
    alpha_only = choice(raw, SPECS["channels"]) == "alpha" and fmt != "ZIP"
    crop = bool(number_or_flag(raw, SPECS["crop"]))
    color = text(raw, SPECS["bg_color"])
    scale = _scale(raw)
    options = Options(
        format=fmt or "PNG",  # auto is settled on the cut-out (output_format)
        quality=DEFAULT_QUALITY["JPEG"] if fmt == "ZIP" else None,
        bg_color=parse_color(color) if color is not None else None,
        mask_only=alpha_only,
        shadow=bool(number_or_flag(raw, SPECS["add_shadow"])),
        model=default_model,
    )
    return Job(
        options=options,
        max_pixels=SIZES[choice(raw, SPECS["size"])],
        type=choice(raw, SPECS["type"]),
        format=fmt,
        roi=_roi(raw),
        crop=crop,
        margins=_margins(raw),
        scale=scale,
        position=_position(raw, scale is not None),
        alpha_only=alpha_only,
    )


def one_of(present: Mapping[str, bool], names: tuple[str, ...], *, required: bool) -> str | None:
    """The one field of `names` that is present; a 400 if several are (or none, when one is required)."""
    given = [name for name in names if present.get(name)]
    if len(given) > 1:
        raise InvalidOption(
            f"Only one of {', '.join(names)} may be given", hint=f"Send just one of: {', '.join(given)}"
        )
    if not given and required:
        raise InvalidOption("No image given", hint=f"Send the image in one of: {', '.join(names)}")
    return given[0] if given else None
