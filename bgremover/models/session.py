"""One loaded model: its catalogue row's pre- and post-processing around a runner on this process's backend."""

from __future__ import annotations

import threading

import numpy as np

from bgremover.models.backends import Runner, UnsupportedInput
from bgremover.models.catalog import ModelSpec


class Segmenter:
    """Square RGB uint8 images at the model's size in, soft masks (float32, [0, 1]) out."""

    def __init__(self, name: str, runner: Runner, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self.size = spec.size
        self.runner = runner
        self._lock = threading.Lock()

    def describe(self) -> dict[str, object]:
        """What runs this model: backend, precision and threads (for logs, /health and the CLI)."""
        return {"backend": self.runner.backend, "precision": self.runner.precision, "threads": self.runner.threads}

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """The image as this model takes it: its square input size, resized as rembg does."""
        return self.spec.resize(rgb)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Soft masks (N×S×S) for N×S×S×3 uint8 images at the model's size, each its own call to the backend."""
        if images.ndim != 4 or images.shape[1:] != (self.size, self.size, 3):
            got = "×".join(map(str, images.shape))
            raise UnsupportedInput(f"{self.name} takes N×{self.size}×{self.size}×3 images (got {got})")
        with self._lock:  # one call at a time per model keeps its threads bounded when threads share it
            out = self.runner.run(self.spec.tensor(images))
        return np.stack([self.spec.mask(mask) for mask in out])

    def warm(self) -> None:
        """Run a grey image once: the first run allocates and plans (and compiles, on OpenVINO)."""
        self.predict(np.full((1, self.size, self.size, 3), 128, np.uint8))
