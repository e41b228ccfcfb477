"""The output presets (docs/api.md, "Presets"): format, quality and bounding box."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Preset:
    """A named bundle of output options; explicit request options override it."""

    format: str
    quality: int
    max_width: int | None
    max_height: int | None
    description: str

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form for /api/presets."""
        return asdict(self)


PRESETS: dict[str, Preset] = {
    "web": Preset("JPEG", 80, 1200, 800, "Web pages: small JPEG"),
    "social": Preset("PNG", 90, 1080, 1080, "Social media posts: square PNG"),
    "email": Preset("JPEG", 75, 800, 600, "Email attachments: compact JPEG"),
    "thumbnail": Preset("WEBP", 60, 300, 300, "Thumbnails: tiny WEBP"),
    "mobile": Preset("WEBP", 70, 800, 600, "Mobile apps: light WEBP"),
    "desktop": Preset("JPEG", 85, 1920, 1080, "Desktop wallpapers and slides"),
    "max_compression": Preset("WEBP", 60, 500, 400, "Smallest file"),
    "print": Preset("PNG", 95, None, None, "Print: full resolution PNG"),
}
