"""rembg's server fields (`rembg s`: `/api/remove`) → our Options and alpha-matting thresholds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bgremover.compat.fields import Field, invalid, number_or_flag, text
from bgremover.errors import ModelLicenceNotAccepted, ModelNotServed
from bgremover.models.catalog import UNSERVED, unaccepted_terms
from bgremover.processing.job import Job as EngineJob
from bgremover.processing.matting import BandMatting
from bgremover.processing.options import OPTIONS, Options, parse_name

BGC = re.compile(r"\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*")

# fmt: off
FIELDS: tuple[Field, ...] = (
    Field("file", "The image (POST, multipart)", kind="file"),
    Field("url", "The image's URL (GET; only when IMAGE_URL_ENABLED is on)"),
    Field("model", "An installed model (MODEL_NAME or MODELS); rembg's server would download others"),
    Field("a", "Alpha matting", "false", kind="boolean"),
    Field("af", "Alpha matting: foreground threshold", "240", kind="integer", low=0, high=255),
    Field("ab", "Alpha matting: background threshold", "10", kind="integer", low=0, high=255),
    Field("ae", "Alpha matting: erosion size", "10", kind="integer", low=0, high=255),
    Field("om", "Only the mask (grayscale PNG)", "false", kind="boolean"),
    Field("ppm", "Post-process the mask (our `standard` refinement)", "false", kind="boolean"),
    Field("bgc", "Background colour 'r,g,b,a' (0-255 each)"),
    Field("dc", "Decontaminate edges (our cut-outs always take the subject's colours at the edges)", "false",
          kind="boolean", ignored=True),
    Field("vm", "ViTMatte edge refinement (not available here)", "false", kind="boolean", ignored=True),
    Field("extras", "Extra session and remove() arguments as JSON", ignored=True),
)
# fmt: on
SPECS = {f.name: f for f in FIELDS}
MODEL_SPEC = next(spec for spec in OPTIONS if spec.name == "model")


@dataclass(frozen=True)
class Job:
    """One rembg request, translated: the engine's options and, with `a`, the matting thresholds (af, ab, ae)."""

    options: Options
    matting: tuple[int, int, int] | None

    def to_job(self) -> EngineJob:
        """The engine's job: these options, and with `a` the matting step."""
        return EngineJob(self.options, () if self.matting is None else (BandMatting(*self.matting),))


def parse_bgc(value: str) -> tuple[int, int, int, int]:
    """rembg's `bgc`: four integers 0-255, comma-separated."""
    match = BGC.fullmatch(value)
    if match is None or any(int(part) > 255 for part in match.groups()):
        raise invalid("bgc", "four integers 0-255 as 'r,g,b,a'", value)
    r, g, b, a = (int(part) for part in match.groups())
    return r, g, b, a


def check_model(name: str, *, accept_noncommercial: bool) -> None:
    """Refuse a model rembg knows but this server does not run, or whose licence has not been accepted here."""
    if name in UNSERVED:
        raise ModelNotServed(details=f"'{name}' {UNSERVED[name].reason}")
    terms = unaccepted_terms(name)
    if terms and not accept_noncommercial:
        raise ModelLicenceNotAccepted(details=terms)


def parse(raw: Mapping[str, object], *, default_model: str) -> Job:
    """Validate rembg's fields and translate them: `a` is our `high` refinement, then band matting with af/ab/ae
    (bench/matting.py: the best of the ways measured); `ppm` is `standard`; neither, the model's raw mask."""
    model = text(raw, SPECS["model"])
    bgc = text(raw, SPECS["bgc"])
    matting = bool(number_or_flag(raw, SPECS["a"]))
    refine = "high" if matting else "standard" if number_or_flag(raw, SPECS["ppm"]) else "none"
    options = Options(
        format="PNG",
        bg_color=parse_bgc(bgc) if bgc is not None else None,
        refine=refine,
        mask_only=bool(number_or_flag(raw, SPECS["om"])),
        model=parse_name(MODEL_SPEC, model) if model is not None else default_model,
    )
    af, ab, ae = (int(number_or_flag(raw, SPECS[name])) for name in ("af", "ab", "ae"))
    return Job(options=options, matting=(af, ab, ae) if matting else None)
