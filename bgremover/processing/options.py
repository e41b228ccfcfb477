"""Processing options (§3.1): one validated object built from form fields, JSON or CLI flags."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bgremover.errors import InvalidOption
from bgremover.processing.presets import PRESETS

FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
REFINE_LEVELS = ("none", "standard", "high")
_REFINE = {level: level for level in REFINE_LEVELS}
_PRESETS = {name: name for name in PRESETS}
DEFAULT_QUALITY = {"PNG": 100, "JPEG": 90, "WEBP": 90}
TRUE = {"true", "1", "yes", "on"}
FALSE = {"false", "0", "no", "off"}
HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
OPTION_NAMES = (
    "format",
    "quality",
    "max_width",
    "max_height",
    "preset",
    "bg_color",
    "trim",
    "trim_padding",
    "refine",
    "mask_only",
    "model",
)


@dataclass(frozen=True)
class Options:
    """Everything that shapes one result; the defaults give a lossless transparent PNG."""

    format: str = "PNG"
    quality: int | None = None
    max_width: int | None = None
    max_height: int | None = None
    preset: str | None = None
    bg_color: tuple[int, int, int, int] | None = None
    trim: bool = False
    trim_padding: int = 10
    refine: str = "standard"
    mask_only: bool = False
    model: str | None = None
    explicit: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def effective_quality(self) -> int:
        """The quality used: explicit, from the preset, or the format's default."""
        return self.quality if self.quality is not None else DEFAULT_QUALITY[self.format]

    @property
    def shaped(self) -> bool:
        """True when any option beyond the defaults shaped the output (X-Optimization-Used)."""
        return bool(self.explicit - {"model"}) or self.preset is not None


def _invalid(name: str, expected: str, value: object) -> InvalidOption:
    return InvalidOption(
        f"Invalid parameter '{name}': expected {expected}",
        hint=f"Set '{name}' to {expected}",
        details=f"Got {str(value)[:100]!r}",
    )


def parse_bool(name: str, value: object) -> bool:
    """true/false/1/0/yes/no/on/off (any case), or a JSON boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise _invalid(name, "a boolean (true/false, 1/0, yes/no, on/off)", value)


def parse_int(name: str, value: object, low: int, high: int) -> int:
    """An integer in [low, high], from a JSON number or a decimal string; nothing is clamped."""
    expected = f"an integer from {low} to {high}"
    if isinstance(value, bool):
        raise _invalid(name, expected, value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,9}\s*", value):
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise _invalid(name, expected, value)
    return value


def parse_color(name: str, value: object) -> tuple[int, int, int, int]:
    """#RGB, #RRGGBB or #RRGGBBAA, with or without '#', as an RGBA tuple."""
    match = HEX_COLOR.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _invalid(name, "a colour like #RGB, #RRGGBB or #RRGGBBAA", value)
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6:
        digits += "ff"
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


def _choice(name: str, value: object, choices: Mapping[str, str]) -> str:
    """The canonical value for a case-insensitive choice (keys are lower case)."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in choices:
        raise _invalid(name, f"one of {', '.join(dict.fromkeys(choices.values()))}", value)
    return choices[key]


def parse_options(raw: Mapping[str, object], *, default_model: str | None = None) -> Options:
    """Validate raw option values (strings or JSON types); unknown keys are ignored, empty values unset."""
    given = {k: v for k, v in raw.items() if k in OPTION_NAMES and v is not None and v != ""}
    values: dict[str, object] = {}
    preset = None
    if "preset" in given:
        preset = _choice("preset", given["preset"], _PRESETS)
        p = PRESETS[preset]
        values.update(format=p.format, quality=p.quality, max_width=p.max_width, max_height=p.max_height)
    for name, value in given.items():
        if name == "format":
            values[name] = _choice(name, value, FORMATS)
        elif name == "quality":
            values[name] = parse_int(name, value, 10, 100)
        elif name in ("max_width", "max_height"):
            values[name] = parse_int(name, value, 100, 4000)
        elif name == "trim_padding":
            values[name] = parse_int(name, value, 0, 500)
        elif name in ("trim", "mask_only"):
            values[name] = parse_bool(name, value)
        elif name == "bg_color":
            values[name] = parse_color(name, value)
        elif name == "refine":
            values[name] = _choice(name, value, _REFINE)
        elif name == "model":
            if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9_.-]{1,64}", value.strip()):
                raise _invalid(name, "an installed model name", value)
            values[name] = value.strip()
    values.setdefault("model", default_model)
    if "format" in given and "quality" not in given and preset and values["format"] != PRESETS[preset].format:
        values["quality"] = None  # a preset's quality belongs to its own format
    return replace(Options(), preset=preset, explicit=frozenset(given) - {"preset"}, **values)
