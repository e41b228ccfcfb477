"""The engine: a job's stages and steps in their declared order (job.ORDER), with per-stage timings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bgremover.processing import compose, decode, encode, geometry, refine, segment, shadow
from bgremover.processing import deadline as deadlines
from bgremover.processing.deadline import Deadline
from bgremover.processing.job import ORDER, Box, Cutout, Job
from bgremover.processing.options import Options, unknown_model

WHITE = (255, 255, 255, 255)
UNBOUNDED = 1 << 20
BAND_ROWS = 256  # the input's own alpha is applied in bands of this many rows


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
    subject: Box | None = None  # the subject's box in the output, when a step worked it out

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
class _Work:
    """The engine's own arrays between its stages, each dropped as soon as no later stage needs it."""

    model: segment.MaskPredictor
    cascade: segment.MaskPredictor | None = None  # re-decides where `model` is unsure, if the plan asks
    image: decode.Decoded | None = None
    seen: np.ndarray | None = None  # what the model sees: the input over white
    mask: np.ndarray | None = None  # the model's soft mask, at its input size
    pixels: np.ndarray | None = None  # composed, ready to encode
    result: Result | None = None


class _Checked:
    """A model whose every run starts at a deadline safe point: segment's views are checked between them."""

    def __init__(self, model: segment.MaskPredictor) -> None:
        self.model = model
        self.size = model.size

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """The image at the model's input size."""
        return self.model.resize(rgb)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The model's masks, unless the deadline has passed."""
        deadlines.check()
        return self.model.predict(images)

    def __getattr__(self, name: str) -> object:
        return getattr(self.model, name)


Stage = Callable[[Cutout, _Work], None]


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
        self._stages: dict[str, Stage] = {
            "decode": self._decode,
            "segment": self._segment,
            "refine": self._refine,
            "resize": self._resize,
            "compose": self._compose,
            "encode": self._encode,
        }

    def process(self, data: bytes, job: Job | Options, *, deadline: Deadline | None = None) -> Result:
        """The finished image for these bytes and this job (or plain options); BgRemoverError subclasses on bad input.

        The engine's stages and the job's steps run in ORDER. With a `deadline`, each stage start (and the
        safe points within: bands of rows, model views) raises ProcessingTimeout once it has passed.
        """
        if isinstance(job, Options):
            job = Job(job)
        model, cascade = self._models(job.options)  # an unknown model is refused before anything is decoded
        work = _Work(model=model, cascade=cascade)
        cutout = Cutout(data=data, options=job.options, limits=self.limits)
        with deadlines.running(deadline):
            for name in ORDER:
                stage, step = self._stages.get(name), job.step(name)
                if stage is None and step is None:
                    continue
                with cutout.stage(name):
                    if stage is not None:
                        stage(cutout, work)
                    elif step is not None:
                        step.run(cutout)
        assert work.result is not None  # encode, the last stage, made it
        return work.result

    def _models(self, options: Options) -> tuple[segment.MaskPredictor, segment.MaskPredictor | None]:
        """The model the options ask for, and the cascade's model when that is the default one."""
        name = options.model or self.default_model
        try:
            model = self.models.get(name)
            if self.cascade_model is None or name != self.default_model or options.refine == "none":
                return model, None
            return model, self.models.get(self.cascade_model)
        except LookupError:
            raise unknown_model(name, self.models.names) from None

    def _decode(self, cutout: Cutout, work: _Work) -> None:
        options = cutout.options
        fit = None
        if not options.trim and (options.max_width or options.max_height):
            fit = (options.max_width or UNBOUNDED, options.max_height or UNBOUNDED)
        work.image = decode.decode(cutout.data, self.limits, fit=fit)
        work.seen = compose.over_white(work.image.rgb, work.image.alpha)

    def _segment(self, cutout: Cutout, work: _Work) -> None:
        assert work.seen is not None
        cascade = _Checked(work.cascade) if work.cascade is not None else None
        segmented = segment.segment(work.seen, _Checked(work.model), refine=cutout.options.refine, cascade=cascade)
        work.mask, cutout.certainty = segmented.mask, segmented.certainty
        name = cutout.options.model or self.default_model
        cutout.model_passes = {name: segmented.passes - segmented.cascade_passes}
        if segmented.cascade_passes:
            cutout.model_passes[str(self.cascade_model)] = segmented.cascade_passes

    def _refine(self, cutout: Cutout, work: _Work) -> None:
        assert work.seen is not None and work.mask is not None and work.image is not None
        alpha = refine.refine(work.seen, work.mask, cutout.options.refine)
        work.seen = work.mask = None
        if work.image.alpha is not None:
            _apply_input_alpha(alpha, work.image.alpha)
        cutout.rgb, cutout.alpha = work.image.rgb, alpha
        work.image = None

    def _resize(self, cutout: Cutout, work: _Work) -> None:
        cutout.rgb, cutout.alpha = _trim_and_fit(cutout.rgb, cutout.alpha, cutout.options)

    def _compose(self, cutout: Cutout, work: _Work) -> None:
        """Compose (over the cut-out's background image, if a step set one); the cut-out's arrays go with it."""
        options, rgb, alpha, background = cutout.options, cutout.rgb, cutout.alpha, cutout.background
        cutout.rgb = cutout.alpha = np.empty((0, 0), np.uint8)
        cutout.background = None
        shade = shadow.cast(alpha) if options.shadow and not options.mask_only and options.format != "ZIP" else None
        behind: shadow.Background = background
        if options.format == "ZIP":  # colours and matte apart: no background, whatever was asked
            work.pixels = compose.compose(rgb, alpha, None)
        elif options.mask_only:
            work.pixels = (alpha * 255.0 + 0.5).astype(np.uint8)
        elif background is not None:
            work.pixels = compose.compose_over(rgb, alpha, background)
        else:
            bg = options.bg_color
            if options.format == "JPEG":  # no alpha channel: a translucent colour is seen over white
                bg = _over_white(bg or WHITE)
            if bg is None:  # the transparent path needs only the 8-bit matte: the float one goes first
                alpha = compose.to_uint8(alpha)
            work.pixels = compose.compose(rgb, alpha, bg)
            behind = bg
        if shade is not None:  # the shadow goes between the subject and what it was composed over
            shadow.under(work.pixels, alpha, shade, behind)
        if behind is None and work.pixels.ndim == 3 and options.format != "ZIP":  # transparent: RGBA
            compose.round_faint_colours(work.pixels)  # fewer bytes; over any background, within a level

    def _encode(self, cutout: Cutout, work: _Work) -> None:
        assert work.pixels is not None
        options, pixels = cutout.options, work.pixels
        work.result = Result(
            data=encode.encode(pixels, options.format, options.effective_quality),
            format=options.format,
            width=pixels.shape[1],
            height=pixels.shape[0],
            input_size=cutout.input_size,
            options=options,
            model_passes=cutout.model_passes,
            certainty=cutout.certainty,
            timings_ms=cutout.timings_ms,
            subject=cutout.subject,
        )


def _over_white(color: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The opaque colour a translucent one shows over white (the same as composing twice, done once)."""
    r, g, b, a = color
    return (*(round(c * a / 255 + 255 * (1 - a / 255)) for c in (r, g, b)), 255)  # type: ignore[return-value]


def _apply_input_alpha(alpha: np.ndarray, own: np.ndarray) -> None:
    """Multiply the matte, in place, by the input image's own alpha (uint8)."""
    for top in range(0, alpha.shape[0], BAND_ROWS):
        deadlines.check()
        rows = slice(top, top + BAND_ROWS)
        alpha[rows] *= own[rows].astype(np.float32) * (1.0 / 255.0)


def _trim_and_fit(rgb: np.ndarray, alpha: np.ndarray, options: Options) -> tuple[np.ndarray, np.ndarray]:
    if options.trim:
        box = geometry.trim_box(alpha, options.trim_padding)
        if box is not None:
            left, top, right, bottom = box
            rgb, alpha = rgb[top:bottom, left:right], alpha[top:bottom, left:right]
    size = geometry.fit_size(rgb.shape[1], rgb.shape[0], options.max_width, options.max_height)
    return geometry.resize(rgb, size), geometry.resize(alpha, size)  # area averaging stays within [0, 1]
