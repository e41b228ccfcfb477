"""Processing options: one declaration table (`OPTIONS`) from which the parser, OpenAPI, CLI and page derive."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from bgremover.errors import InvalidOption
from bgremover.processing.presets import PRESETS

FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
REFINE_LEVELS = ("none", "standard", "high")
DEFAULT_QUALITY = {"PNG": 100, "JPEG": 90, "WEBP": 90}
TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
HEX_COLOR = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
INTEGER = re.compile(r"\s*[+-]?\d{1,9}\s*")
MODEL_NAME = re.compile(r"[a-z0-9_.-]{1,64}")

Kind = Literal["choice", "int", "bool", "color", "name"]


@dataclass(frozen=True)
class OptionSpec:
    """One processing option: how it is spelled, what it accepts, its default and what it does."""

    name: str
    kind: Kind
    doc: str
    default: object = None
    low: int | None = None
    high: int | None = None
    choices: Mapping[str, str] = field(default_factory=dict)  # accepted lower-case spelling → canonical value

    @property
    def values(self) -> list[str]:
        """The canonical values of a choice, in declaration order."""
        return list(dict.fromkeys(self.choices.values()))

    @property
    def expected(self) -> str:
        """What a valid value looks like, in words (used in errors and help texts)."""
        if self.kind == "int":
            return f"an integer from {self.low} to {self.high}"
        if self.kind == "choice":
            return f"one of {', '.join(self.values)}"
        if self.kind == "bool":
            return "a boolean (true/false, 1/0, yes/no, on/off)"
        if self.kind == "color":
            return "a colour like #RGB, #RRGGBB or #RRGGBBAA"
        return "an installed model name"

    @property
    def help(self) -> str:
        """The doc line with the accepted values and the default, for the CLI and OpenAPI."""
        text = self.doc if self.kind == "bool" else f"{self.doc} ({self.expected})"
        return text if self.default is None else f"{text} [default: {self.default}]"


def _choices(values: Mapping[str, str] | tuple[str, ...] | list[str]) -> Mapping[str, str]:
    return dict(values) if isinstance(values, Mapping) else {v.lower(): v for v in values}


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("format", "choice", "Output format", "PNG", choices=FORMATS),
    OptionSpec("quality", "int", "JPEG/WEBP quality; for PNG, below 100 means a palette", None, 10, 100),
    OptionSpec("max_width", "int", "Downscale to at most this width", None, 100, 4000),
    OptionSpec("max_height", "int", "Downscale to at most this height", None, 100, 4000),
    OptionSpec("preset", "choice", "Fills format, quality and size", choices=_choices(list(PRESETS))),
    OptionSpec("bg_color", "color", "Background colour instead of transparency"),
    OptionSpec("shadow", "bool", "Add a soft drop shadow under the subject", False),
    OptionSpec("trim", "bool", "Crop to the subject", False),
    OptionSpec("trim_padding", "int", "Margin kept around the subject when trimming", 10, 0, 500),
    OptionSpec("refine", "choice", "Edge refinement", "standard", choices=_choices(REFINE_LEVELS)),
    OptionSpec("mask_only", "bool", "Return the alpha mask as grayscale", False),
    OptionSpec("model", "name", "Which installed model segments the image (default MODEL_NAME)"),
)
OPTIONS_BY_NAME: dict[str, OptionSpec] = {spec.name: spec for spec in OPTIONS}
OPTION_NAMES = tuple(OPTIONS_BY_NAME)


@dataclass(frozen=True)
class Options:
    """Everything that shapes one result; the defaults (from `OPTIONS`) give a lossless transparent PNG."""

    format: str = str(OPTIONS_BY_NAME["format"].default)
    quality: int | None = None
    max_width: int | None = None
    max_height: int | None = None
    preset: str | None = None
    bg_color: tuple[int, int, int, int] | None = None
    shadow: bool = bool(OPTIONS_BY_NAME["shadow"].default)
    trim: bool = bool(OPTIONS_BY_NAME["trim"].default)
    trim_padding: int = int(OPTIONS_BY_NAME["trim_padding"].default)  # type: ignore[call-overload]
    refine: str = str(OPTIONS_BY_NAME["refine"].default)
    mask_only: bool = bool(OPTIONS_BY_NAME["mask_only"].default)
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


def _invalid(spec: OptionSpec, value: object) -> InvalidOption:
    return InvalidOption(
        f"Invalid parameter '{spec.name}': expected {spec.expected}",
        hint=f"Set '{spec.name}' to {spec.expected}",
        details=f"Got {str(value)[:100]!r}",
    )


def parse_bool(spec: OptionSpec, value: object) -> bool:
    """true/false/1/0/yes/no/on/off (any case), or a JSON boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    key = value.strip().lower() if isinstance(value, str) else None
    if key in TRUE or key in FALSE:
        return key in TRUE
    raise _invalid(spec, value)


def parse_int(spec: OptionSpec, value: object) -> int:
    """An integer within the spec's bounds, from a JSON number or a decimal string; nothing is clamped."""
    if isinstance(value, bool):
        raise _invalid(spec, value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and INTEGER.fullmatch(value):
        value = int(value)
    if not isinstance(value, int) or spec.low is None or spec.high is None or not spec.low <= value <= spec.high:
        raise _invalid(spec, value)
    return value


def parse_color(spec: OptionSpec, value: object) -> tuple[int, int, int, int]:
    """#RGB, #RRGGBB or #RRGGBBAA, with or without '#', as an RGBA tuple."""
    match = HEX_COLOR.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _invalid(spec, value)
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) == 6:
        digits += "ff"
    r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
    return r, g, b, a


def parse_choice(spec: OptionSpec, value: object) -> str:
    """The canonical value of a case-insensitive choice."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key is None or key not in spec.choices:
        raise _invalid(spec, value)
    return spec.choices[key]


def parse_name(spec: OptionSpec, value: object) -> str:
    """A model name: lower-case letters, digits, '.', '_' and '-' (whether it is installed is the registry's call)."""
    if not isinstance(value, str) or not MODEL_NAME.fullmatch(value.strip()):
        raise _invalid(spec, value)
    return value.strip()


def unknown_model(name: str, installed: list[str]) -> InvalidOption:
    """The 400 for a `model` that names no model this server knows."""
    return InvalidOption(
        f"Invalid parameter 'model': unknown model '{name}'",
        hint=f"Use one of: {', '.join(installed) or 'none loaded'}",
    )


PARSERS: dict[Kind, Callable[[OptionSpec, object], object]] = {
    "choice": parse_choice,
    "int": parse_int,
    "bool": parse_bool,
    "color": parse_color,
    "name": parse_name,
}


def parse_options(raw: Mapping[str, object], *, default_model: str | None = None) -> Options:
    """Validate raw option values (strings or JSON types); unknown keys are ignored, empty values unset."""
    given = {k: v for k, v in raw.items() if k in OPTIONS_BY_NAME and v is not None and v != ""}
    values = {name: PARSERS[OPTIONS_BY_NAME[name].kind](OPTIONS_BY_NAME[name], value) for name, value in given.items()}
    preset = values.pop("preset", None)
    if preset is not None:
        p = PRESETS[str(preset)]
        from_preset = {"format": p.format, "quality": p.quality, "max_width": p.max_width, "max_height": p.max_height}
        if "format" in values and "quality" not in values and values["format"] != p.format:
            from_preset["quality"] = None  # a preset's quality belongs to its own format
        values = {**from_preset, **values}
    values.setdefault("model", default_model)
    return replace(Options(), preset=preset, explicit=frozenset(given) - {"preset"}, **values)  # type: ignore[arg-type]
