"""Inference backends: which one runs the models here (a pure choice) and a runner per model file on it."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, get_args

import numpy as np

from bgremover.errors import BackendUnavailable
from bgremover.settings import Backend, Precision

if TYPE_CHECKING:
    import onnxruntime

BACKENDS: tuple[Backend, ...] = get_args(Backend)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo flags of CPUs with native bf16 arithmetic
VNNI_CPU_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})  # flags of CPUs with int8 dot-product instructions


class UnsupportedInput(ValueError):
    """An input shape the runner cannot take: each model runs at its own size only."""


@dataclass(frozen=True)
class Inference:
    """The backend and precision this process runs its models with.

    With `prefer_int8` (INFERENCE_PRECISION=auto on a VNNI CPU), a model whose int8 build is present runs it
    and any other runs `precision`; the registry settles it per model (`ModelRegistry.file_for`).
    """

    backend: Backend
    precision: Precision
    prefer_int8: bool = False


def bf16_supported(capabilities: Sequence[str] | None, cpu_flags: frozenset[str]) -> bool:
    """Whether the CPU has native bf16: OpenVINO's OPTIMIZATION_CAPABILITIES when known, else the CPU's flags."""
    if capabilities is not None:
        return "BF16" in capabilities
    return bool(cpu_flags & BF16_CPU_FLAGS)


def vnni_supported(cpu_flags: frozenset[str]) -> bool:
    """Whether the CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX), where int8 pays most."""
    return bool(cpu_flags & VNNI_CPU_FLAGS)


def choose(backend: str, precision: str, *, openvino: bool, bf16: bool, vnni: bool = False) -> Inference:
    """The backend and precision for INFERENCE_BACKEND/INFERENCE_PRECISION on a machine with these abilities.

    `auto` backend is OpenVINO when it is installed, else onnxruntime. `auto` precision on OpenVINO prefers
    int8 builds on a VNNI CPU, and otherwise (or for a model without a build) runs bf16 on a bf16 CPU, else
    f32 (docs/models.md, Precision). A combination that cannot run raises BackendUnavailable.
    """
    if backend == "auto":
        backend = "openvino" if openvino else "onnxruntime"
    elif backend == "openvino" and not openvino:
        raise BackendUnavailable(
            "INFERENCE_BACKEND=openvino, but the openvino package is not installed "
            "(pip install -r requirements.txt), or set INFERENCE_BACKEND=onnxruntime"
        )
    if backend not in BACKENDS:
        raise BackendUnavailable(f"INFERENCE_BACKEND={backend} is not one of auto, {', '.join(BACKENDS)}")
    if precision == "auto":
        openvino_here = backend == "openvino"
        return Inference(backend, "bf16" if openvino_here and bf16 else "f32", prefer_int8=openvino_here and vnni)
    elif precision in ("bf16", "int8") and backend != "openvino":
        raise BackendUnavailable(
            f"INFERENCE_PRECISION={precision} needs OpenVINO, but INFERENCE_BACKEND resolves to onnxruntime "
            "here; set INFERENCE_PRECISION=f32 or install openvino"
        )
    elif precision == "bf16" and not bf16:
        raise BackendUnavailable(
            "INFERENCE_PRECISION=bf16, but this CPU has no native bf16 (AVX512-BF16 or AMX); "
            "set INFERENCE_PRECISION=auto or f32"
        )
    if precision not in PRECISIONS:
        raise BackendUnavailable(f"INFERENCE_PRECISION={precision} is not one of auto, {', '.join(PRECISIONS)}")
    return Inference(backend, precision)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's feature flags from /proc/cpuinfo; empty where there is no such file."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def openvino_installed() -> bool:
    """Whether the openvino package can be imported (found without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def openvino_capabilities() -> list[str] | None:
    """The OpenVINO CPU plugin's OPTIMIZATION_CAPABILITIES (lists BF16 on a bf16 CPU); None without OpenVINO."""
    if not openvino_installed():
        return None
    return list(_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def resolve(backend: str, precision: str, *, ask_openvino: bool = True) -> Inference:
    """`choose` on this machine. bf16 support comes from OpenVINO when asked and installed, else /proc/cpuinfo;
    VNNI from /proc/cpuinfo.

    The gunicorn master passes ask_openvino=False: it checks the settings before forking and must not
    load OpenVINO's plugin (and its thread pool) into the process that forks the workers.
    """
    openvino = openvino_installed()
    bf16 = vnni = False
    if backend != "onnxruntime" and precision != "f32":
        flags = cpu_flags()
        capabilities = openvino_capabilities() if ask_openvino and openvino else None
        bf16, vnni = bf16_supported(capabilities, flags), vnni_supported(flags)
    return choose(backend, precision, openvino=openvino, bf16=bf16, vnni=vnni)


class Runner(Protocol):
    """A model file loaded on one backend: float32 NCHW batches in, the first output (N×H×W, float32) out."""

    backend: Backend
    precision: Precision
    threads: int

    def run(self, batch: np.ndarray) -> np.ndarray: ...


class OnnxRuntimeRunner:
    """onnxruntime's CPU session, as rembg builds it but with explicit threads; sizes and batch as in the file."""

    backend: Backend = "onnxruntime"
    precision: Precision = "f32"

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
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
        self.session: onnxruntime.InferenceSession = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.threads = threads
        first = self.session.get_inputs()[0]
        self._input = first.name
        n, _, h, w = first.shape
        self._fixed = (h, w) if isinstance(h, int) and isinstance(w, int) else None
        self._one_at_a_time = n == 1  # rembg's files fix the batch at 1

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The first output of each image, in one call where the file allows a batch, else one by one."""
        if self._fixed is not None and batch.shape[2:] != self._fixed:
            h, w = self._fixed
            raise UnsupportedInput(
                f"onnxruntime runs this model file at {h}×{w} only (got {batch.shape[2]}×{batch.shape[3]})"
            )
        if self._one_at_a_time:
            outputs = [self.session.run(None, {self._input: batch[i : i + 1]})[0] for i in range(batch.shape[0])]
            out = np.concatenate(outputs)
        else:
            out = self.session.run(None, {self._input: batch})[0]
        return out[:, 0].astype(np.float32, copy=False)


_CORE: Any = None


def _core() -> Any:
    """This process's OpenVINO Core, created on first use (after the fork in a gunicorn worker)."""
    global _CORE
    if _CORE is None:
        import openvino as ov

        _CORE = ov.Core()
    return _CORE


class OpenVinoRunner:
    """OpenVINO on the CPU: the file reshaped to the model's square size and compiled once, for one image a call.

    A static shape lets the CPU plugin plan its buffers ahead: a worker with u2netp at 320 px holds 39 MiB less
    than with a dynamic batch (BENCHMARKS.md, "Memory"), and a batch of two in one call was no faster than two.
    """

    backend: Backend = "openvino"

    def __init__(self, path: Path, precision: Precision, threads: int, size: int) -> None:
        import openvino as ov

        self.precision = precision
        self.threads = threads
        self.size = size
        model = _core().read_model(str(path))
        channels = model.inputs[0].get_partial_shape()[1]
        # Threads are the workers' own business: pinning them to cores would put two single-thread worker
        # processes on one core (bf16 fell from 8.7 to 4.5 passes/s); one stream, lowest latency.
        # An int8 IR runs its quantized layers in int8 whatever the hint; the hint sets the layers kept in f32.
        hint = "f32" if precision == "int8" else precision
        self.config = {
            "INFERENCE_PRECISION_HINT": hint,
            "INFERENCE_NUM_THREADS": threads,
            "ENABLE_CPU_PINNING": False,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        }
        try:
            model.reshape({model.inputs[0].get_any_name(): ov.PartialShape([1, channels, size, size])})
            self.compiled = _core().compile_model(model, "CPU", self.config)
        except RuntimeError as exc:
            raise UnsupportedInput(f"OpenVINO cannot run this model file at {size}×{size}") from exc
        got = self.compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        if got != hint:
            raise BackendUnavailable(
                f"OpenVINO compiled the model in {got}, not INFERENCE_PRECISION={hint}; set it to auto"
            )
        self._request = self.compiled.create_infer_request()

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The first output of each image of the batch, one call per image."""
        if batch.shape[2:] != (self.size, self.size):
            raise UnsupportedInput(f"this model runs at {self.size}×{self.size} only (got {batch.shape[2:]})")
        # Each result is a copy (share_outputs is off): the request reuses its buffers on the next call.
        outputs = [self._request.infer({0: batch[i : i + 1]})[0] for i in range(batch.shape[0])]
        return np.concatenate(outputs)[:, 0].astype(np.float32, copy=False)


def create_runner(path: Path, inference: Inference, threads: int, size: int) -> Runner:
    """A runner for the model file at its `size`, on the chosen backend and precision, with `threads` threads."""
    if inference.backend == "openvino":
        return OpenVinoRunner(path, inference.precision, threads, size)
    return OnnxRuntimeRunner(path, threads)
