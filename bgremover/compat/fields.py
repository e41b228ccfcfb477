"""A compatible API's request fields, declared once: their parsers, the OpenAPI and the docs derive from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bgremover.errors import InvalidOption
from bgremover.processing.options import OptionSpec, parse_bool, parse_int

Kind = Literal["string", "boolean", "integer", "file"]


@dataclass(frozen=True)
class Field:
    """One request field of a compatible API: its name, meaning, default, accepted values, and whether we use it."""

    name: str
    doc: str
    default: str | None = None
    values: tuple[str, ...] = ()  # the accepted spellings (case-insensitive); empty: free form
    kind: Kind = "string"
    ignored: bool = False  # accepted so that clients work unchanged, but it changes nothing here
    low: int | None = None
    high: int | None = None


def invalid(name: str, expected: str, value: object) -> InvalidOption:
    """The 400 for a field whose value is not what it should be."""
    return InvalidOption(
        f"Invalid parameter '{name}': expected {expected}",
        hint=f"Set '{name}' to {expected}",
        details=f"Got {str(value)[:100]!r}",
    )


def text(raw: Mapping[str, object], field: Field) -> str | None:
    """The field's value as stripped text (JSON booleans as true/false), or None when absent or empty."""
    value = raw.get(field.name)
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise invalid(field.name, "a string", value)
    value = value.strip()
    return value or None


def choice(raw: Mapping[str, object], field: Field) -> str:
    """One of the field's values (lower-cased), or its default."""
    value = text(raw, field)
    if value is None:
        return str(field.default)
    if value.lower() not in field.values:
        raise invalid(field.name, f"one of {', '.join(field.values)}", value)
    return value.lower()


def option_spec(field: Field) -> OptionSpec:
    """The field as one of our option declarations, so that our parsers check it and name it in their 400s."""
    return OptionSpec(field.name, "int" if field.kind == "integer" else "bool", field.doc, field.default,
                      field.low, field.high)  # fmt: skip


def number_or_flag(raw: Mapping[str, object], field: Field) -> int | bool:
    """An integer or boolean field's value (within its bounds), or its default."""
    value = text(raw, field)
    parse = parse_int if field.kind == "integer" else parse_bool
    return parse(option_spec(field), value if value is not None else field.default)


def ignored(fields: tuple[Field, ...]) -> list[str]:
    """The names of the fields that are accepted but change nothing."""
    return [f.name for f in fields if f.ignored]
