"""A job for the engine: its options and its own steps, and the one declared order every stage and step runs in.

The engine's stages always run; a job's steps (what a drop-in API asks for beyond our options) run at
their place in ORDER when the job holds them, as imgproxy runs its list of steps and thumbor its
filters. A step is a small object with a `name` from ORDER and a `run(cutout)` that reads and
replaces plain arrays and values on the cut-out; its maths is a plain function in its own module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from bgremover.processing import deadline, decode
from bgremover.processing.options import Options

# Every stage and step, in the order they run. The engine's own: decode, segment, refine, resize, compose and
# encode. A job's: `fit` (a size cap worked out from the header, before decoding), `matting` (rembg's `a`),
# `layout` (remove.bg's roi, crop, scale, position), `background` (an image behind the subject) and `format`
# (remove.bg's `auto`, settled on the final matte).
ORDER = (
    "fit", "decode", "segment", "refine", "matting", "resize", "layout", "background", "format", "compose", "encode",
)  # fmt: skip
ENGINE_STAGES = ("decode", "segment", "refine", "resize", "compose", "encode")
Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom exclusive)


@dataclass
class Cutout:
    """The image between stages: what every step reads and replaces, plus the stage timings so far.

    `rgb` (uint8, H×W×3) and `alpha` (float32 in [0, 1], H×W) are the subject from `resize` on;
    `background` is an RGB image of their size to compose over; `subject` is the subject's box when a
    step worked it out; `options` may be replaced by a step (a size cap, a format settled late).
    """

    data: bytes
    options: Options
    limits: decode.Limits
    rgb: np.ndarray = field(default_factory=lambda: np.empty((0, 0, 3), np.uint8))
    alpha: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    background: np.ndarray | None = None
    subject: Box | None = None
    model_passes: dict[str, int] = field(default_factory=dict)  # passes of each model that ran
    certainty: float = 1.0  # how sure the segmentation is, in [0, 1] (segment.certainty)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        """The input's size in bytes."""
        return len(self.data)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (added to any earlier time of the same name); a deadline safe point at its start."""
        deadline.entering(name)
        started = time.perf_counter()
        yield
        spent = (time.perf_counter() - started) * 1000
        self.timings_ms[name] = round(self.timings_ms.get(name, 0.0) + spent, 2)


class Step(Protocol):
    """One of a job's own steps: its place (a name from ORDER, also its timing's name) and what it does."""

    @property
    def name(self) -> str: ...

    def run(self, cutout: Cutout) -> None: ...


@dataclass(frozen=True)
class Job:
    """What to make of one image: the engine's options and the job's own steps (at most one per name)."""

    options: Options
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        names = [step.name for step in self.steps]
        unknown = [name for name in names if name not in ORDER or name in ENGINE_STAGES]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"steps must have distinct names from ORDER that are not the engine's: {names}")

    def step(self, name: str) -> Step | None:
        """The job's step of that name, if it has one."""
        return next((step for step in self.steps if step.name == name), None)
