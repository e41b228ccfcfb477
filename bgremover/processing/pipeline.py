"""The engine: decode → segment → refine → trim/resize → compose → encode, with per-stage timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bgremover.processing import compose, decode, encode, geometry, refine, segment
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
    input_format: str
    options: Options
    model_passes: int = 1
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


class Engine:
    """Removes backgrounds; knows nothing of HTTP, so the API, the CLI and the benchmarks share it."""

    def __init__(self, models: ModelSource, default_model: str, limits: decode.Limits | None = None):
        self.models = models
        self.default_model = default_model
        self.limits = limits or decode.Limits()

    def process(self, data: bytes, options: Options) -> Result:
        """The finished image for these bytes and options; raises BgRemoverError subclasses on bad input."""
        timings: dict[str, float] = {}

        @contextmanager
        def stage(name: str) -> Iterator[None]:
            started = time.perf_counter()
            yield
            timings[name] = round((time.perf_counter() - started) * 1000, 2)

        name = options.model or self.default_model
        try:
            model = self.models.get(name)
        except LookupError:
            raise unknown_model(name, self.models.names) from None
        fit = None
        if not options.trim and (options.max_width or options.max_height):
            fit = (options.max_width or UNBOUNDED, options.max_height or UNBOUNDED)
        with stage("decode"):
            image = decode.decode(data, self.limits, fit=fit)
            input_format = image.format
            seen = _flatten_for_model(image.rgb, image.alpha)
        with stage("segment"):
            segmented = segment.segment(seen, model, refine=options.refine)
        with stage("refine"):
            alpha = refine.refine(seen, segmented.mask, options.refine)
            del seen  # each full-size array is dropped as soon as no later stage needs it
            if image.alpha is not None:
                _apply_input_alpha(alpha, image.alpha)
        with stage("resize"):
            rgb, alpha = _trim_and_fit(image.rgb, alpha, options)
            del image
        with stage("compose"):
            if options.mask_only:
                pixels = (alpha * 255.0 + 0.5).astype(np.uint8)
            else:
                bg = options.bg_color
                if options.format == "JPEG":  # no alpha channel: a translucent colour is seen over white
                    bg = _over_white(bg or WHITE)
                if bg is None:  # the transparent path needs only the 8-bit matte: the float one goes first
                    alpha = compose.to_uint8(alpha)
                pixels = compose.compose(rgb, alpha, bg)
            del rgb, alpha
        with stage("encode"):
            out = encode.encode(pixels, options.format, options.effective_quality)
        return Result(
            data=out,
            format=options.format,
            width=pixels.shape[1],
            height=pixels.shape[0],
            input_size=len(data),
            input_format=input_format,
            options=options,
            model_passes=segmented.passes,
            timings_ms=timings,
        )


def _over_white(color: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The opaque colour a translucent one shows over white (the same as composing twice, done once)."""
    r, g, b, a = color
    return (*(round(c * a / 255 + 255 * (1 - a / 255)) for c in (r, g, b)), 255)  # type: ignore[return-value]


def _bands(height: int) -> Iterator[slice]:
    for top in range(0, height, BAND_ROWS):
        yield slice(top, top + BAND_ROWS)


def _flatten_for_model(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
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
