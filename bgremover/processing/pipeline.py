"""The engine: decode → segment → refine → trim/resize → compose → encode, with per-stage timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bgremover.errors import ProcessingTimeout
from bgremover.processing import compose, decode, encode, geometry, refine, segment, shadow
from bgremover.processing.options import Options, unknown_model

WHITE = (255, 255, 255, 255)
UNBOUNDED = 1 << 20
BAND_ROWS = 256  # full-size float maths on an input's own alpha runs in bands of this many rows


class ModelSource(Protocol):
    """Where the engine gets a model by name (see models.ModelRegistry); unknown names raise LookupError."""

    @property
    def names(self) -> list[str]: ...

    def get(self, name: str) -> segment.MaskPredictor: ...


@dataclass
class Result:
    """One processed image and what it took to make it."""

    data: bytes
    format: str
    width: int
    height: int
    input_size: int
    options: Options
    model_passes: dict[str, int] = field(default_factory=dict)  # passes of each model that ran
    certainty: float = 1.0  # how sure the segmentation is, in [0, 1] (segment.certainty)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def mimetype(self) -> str:
        """The output's MIME type."""
        return encode.MIMETYPES[self.format]

    @property
    def extension(self) -> str:
        """The usual file extension of the output format."""
        return encode.EXTENSIONS[self.format]

    @property
    def size(self) -> int:
        """Output size in bytes."""
        return len(self.data)

    @property
    def compression_ratio(self) -> str:
        """How much smaller than the input the output is, as a percentage string (may be negative)."""
        return f"{round(100 * (1 - self.size / max(self.input_size, 1)))}%"

    @property
    def total_ms(self) -> float:
        """Sum of the stage timings."""
        return sum(self.timings_ms.values())


@dataclass
class Cutout:
    """The subject before composition: full-size colours, alpha in [0, 1], and the stage timings so far."""

    rgb: np.ndarray
    alpha: np.ndarray
    input_size: int
    model_passes: dict[str, int] = field(default_factory=dict)
    certainty: float = 1.0
    deadline: float | None = None  # a time.monotonic() instant after which no stage starts
    timings_ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (added to any earlier time of the same name); ProcessingTimeout if the deadline passed."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise ProcessingTimeout(details=f"Stopped before the {name} stage")
        started = time.perf_counter()
        yield
        spent = (time.perf_counter() - started) * 1000
        self.timings_ms[name] = round(self.timings_ms.get(name, 0.0) + spent, 2)


class Engine:
    """Removes backgrounds; knows nothing of HTTP, so the API, the CLI and the benchmarks share it."""

    def __init__(
        self,
        models: ModelSource,
        default_model: str,
        limits: decode.Limits | None = None,
        cascade_model: str | None = None,
    ):
        self.models = models
        self.default_model = default_model
        self.cascade_model = cascade_model  # re-decides where the default model is unsure (segment.py)
        self.limits = limits or decode.Limits()

    def process(self, data: bytes, options: Options, *, deadline: float | None = None) -> Result:
        """The finished image for these bytes and options; raises BgRemoverError subclasses on bad input.

        `deadline` is a time.monotonic() instant: no stage starts after it (ProcessingTimeout instead).
        """
        return self.finish(self.cut(data, options, deadline=deadline), options)

    def cut(self, data: bytes, options: Options, *, deadline: float | None = None) -> Cutout:
        """Decode, segment, refine, trim and fit: the subject before composition (`deadline` as for process)."""
        empty_rgb, empty_alpha = np.empty((0, 0, 3), np.uint8), np.empty((0, 0), np.float32)
        cutout = Cutout(rgb=empty_rgb, alpha=empty_alpha, input_size=len(data), deadline=deadline)
        name = options.model or self.default_model
        try:
            model = self.models.get(name)
            cascade = self.models.get(self.cascade_model) if self.cascade_model and name == self.default_model else None
        except LookupError:
            raise unknown_model(name, self.models.names) from None
        fit = None
        if not options.trim and (options.max_width or options.max_height):
            fit = (options.max_width or UNBOUNDED, options.max_height or UNBOUNDED)
        with cutout.stage("decode"):
            image = decode.decode(data, self.limits, fit=fit)
            seen = flatten_on_white(image.rgb, image.alpha)
        with cutout.stage("segment"):
            segmented = segment.segment(seen, model, refine=options.refine, cascade=cascade)
        cutout.model_passes = {name: segmented.passes - segmented.cascade_passes}
        if cascade is not None and segmented.cascade_passes:
            cutout.model_passes[str(self.cascade_model)] = segmented.cascade_passes
        cutout.certainty = segmented.certainty
        with cutout.stage("refine"):
            alpha = refine.refine(seen, segmented.mask, options.refine)
            del seen  # each full-size array is dropped as soon as no later stage needs it
            if image.alpha is not None:
                _apply_input_alpha(alpha, image.alpha)
        with cutout.stage("resize"):
            cutout.rgb, cutout.alpha = _trim_and_fit(image.rgb, alpha, options)
            del image, alpha
        return cutout

    def finish(self, cutout: Cutout, options: Options, *, background: np.ndarray | None = None) -> Result:
        """Compose (over `background`, an RGB image of the cut-out's size, if given) and encode; spends the cut-out."""
        rgb, alpha = cutout.rgb, cutout.alpha
        cutout.rgb = cutout.alpha = np.empty((0, 0), np.uint8)  # the cut-out is spent: its arrays go with compose
        with cutout.stage("compose"):
            shade = shadow.cast(alpha) if options.shadow and not options.mask_only and options.format != "ZIP" else None
            behind: shadow.Background = background
            if options.format == "ZIP":  # colours and matte apart: no background, whatever was asked
                pixels = compose.compose(rgb, alpha, None)
            elif options.mask_only:
                pixels = (alpha * 255.0 + 0.5).astype(np.uint8)
            elif background is not None:
                pixels = compose.compose_over(rgb, alpha, background)
            else:
                bg = options.bg_color
                if options.format == "JPEG":  # no alpha channel: a translucent colour is seen over white
                    bg = _over_white(bg or WHITE)
                if bg is None:  # the transparent path needs only the 8-bit matte: the float one goes first
                    alpha = compose.to_uint8(alpha)
                pixels = compose.compose(rgb, alpha, bg)
                behind = bg
            if shade is not None:  # the shadow goes between the subject and what it was composed over
                shadow.under(pixels, alpha, shade, behind)
            del rgb, alpha
        with cutout.stage("encode"):
            out = encode.encode(pixels, options.format, options.effective_quality)
        return Result(
            data=out,
            format=options.format,
            width=pixels.shape[1],
            height=pixels.shape[0],
            input_size=cutout.input_size,
            options=options,
            model_passes=cutout.model_passes,
            certainty=cutout.certainty,
            timings_ms=cutout.timings_ms,
        )


def _over_white(color: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The opaque colour a translucent one shows over white (the same as composing twice, done once)."""
    r, g, b, a = color
    return (*(round(c * a / 255 + 255 * (1 - a / 255)) for c in (r, g, b)), 255)  # type: ignore[return-value]


def _bands(height: int) -> Iterator[slice]:
    for top in range(0, height, BAND_ROWS):
        yield slice(top, top + BAND_ROWS)


def flatten_on_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """What the model sees: transparent input pixels shown as white, whatever colour they hold."""
    if alpha is None:
        return rgb
    out = np.empty_like(rgb)
    for rows in _bands(rgb.shape[0]):
        a = alpha[rows].astype(np.float32)[:, :, None] * (1.0 / 255.0)
        out[rows] = rgb[rows] * a + 255.0 * (1.0 - a) + 0.5
    return out


def _apply_input_alpha(alpha: np.ndarray, own: np.ndarray) -> None:
    """Multiply the matte, in place, by the input image's own alpha (uint8)."""
    for rows in _bands(alpha.shape[0]):
        alpha[rows] *= own[rows].astype(np.float32) * (1.0 / 255.0)


def _trim_and_fit(rgb: np.ndarray, alpha: np.ndarray, options: Options) -> tuple[np.ndarray, np.ndarray]:
    if options.trim:
        box = geometry.trim_box(alpha, options.trim_padding)
        if box is not None:
            left, top, right, bottom = box
            rgb, alpha = rgb[top:bottom, left:right], alpha[top:bottom, left:right]
    size = geometry.fit_size(rgb.shape[1], rgb.shape[0], options.max_width, options.max_height)
    return geometry.resize(rgb, size), geometry.resize(alpha, size)  # area averaging stays within [0, 1]
