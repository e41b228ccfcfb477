"""One typed settings object: defaults, then the environment and `.env` (or the file ENV_FILE names), then validation.

Settings hold plain values (numbers, strings, paths, lists of strings) and import nothing of bgremover: the app
factory hands them to what they configure (the key store, the URL allow-list, the engine's image limits), and
those check what only they understand, naming the setting.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024
CommaList = Annotated[list[str], NoDecode]
Backend = Literal["openvino", "onnxruntime"]  # what runs the model (bgremover.models.backends)
Precision = Literal["f32", "bf16", "int8"]  # the arithmetic it runs in


def _cores() -> int:
    """Cores this process may run on (respects CPU affinity, unlike os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


# Not a setting: names the .env file to read instead of the working directory's (deploy/kubernetes mounts its
# Secret's .env at a directory and points this at it).
ENV_FILE_VARIABLE = "ENV_FILE"


class SettingsError(Exception):
    """An invalid setting; the message names it and says what is expected."""


class Settings(BaseSettings):
    """Every setting of the service, read from the environment (and `.env`) with these defaults."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False)

    host: str = Field("127.0.0.1", description="Address the server listens on")
    port: int = Field(5001, ge=1, le=65535, description="Port the server listens on")
    model_name: str = Field("u2netp", description="Default rembg model that segments images")
    models: CommaList = Field(
        default_factory=list,
        description="Extra installed models a request may pick with `model` (comma-separated)",
    )
    cascade_model: str | None = Field(
        "u2net",
        description="Model that re-decides where MODEL_NAME is unsure (standard, high); none: MODEL_NAME alone",
    )
    accept_noncommercial_models: bool = Field(
        False, description="Load models whose licence allows no commercial use without an agreement (bria-rmbg)"
    )
    u2net_home: Path = Field(Path("~/.u2net"), description="Directory holding the model files")
    max_content_length: int = Field(16 * MiB, ge=1024, description="Largest request body in bytes")
    min_image_side: int = Field(50, ge=1, description="Smallest accepted image side in pixels")
    max_image_side: int = Field(4096, ge=100, description="Largest accepted image side in pixels")
    max_image_pixels: int = Field(4096 * 4096, ge=10_000, description="Largest accepted width × height in pixels")
    ratelimit_enabled: bool = Field(True, description="Rate limiting on or off (off for benchmarks)")
    rate_limit_remove_bg_per_hour: int = Field(
        10, ge=1, description="Requests to /remove-background per client per hour"
    )
    rate_limit_preview_per_hour: int = Field(
        20, ge=1, description="Requests to /remove-background-preview per client per hour"
    )
    rate_limit_base64_per_hour: int = Field(
        30, ge=1, description="Requests to /remove-background-base64 per client per hour"
    )
    rate_limit_read_file_per_hour: int = Field(15, ge=1, description="Requests to /read-file per client per hour")
    rate_limit_removebg_per_hour: int = Field(
        50, ge=1, description="Requests to remove.bg's POST /v1.0/removebg per client per hour"
    )
    rate_limit_rembg_per_hour: int = Field(
        50, ge=1, description="Requests to rembg's /api/remove (GET and POST together) per client per hour"
    )
    redis_url: str | None = Field(
        None, description="Redis for rate limits shared by workers and nodes; unset: each worker counts in its memory"
    )
    ratelimit_storage_uri: str | None = Field(None, description="Limiter storage; overrides REDIS_URL")
    trusted_proxy_hops: int = Field(
        0, ge=0, le=5, description="Proxies in front whose X-Forwarded-For is believed (1 behind the nginx site)"
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Origins allowed by CORS (comma-separated, * for any); empty: no cross-origin access",
    )
    read_file_dir: Path | None = Field(None, description="Directory /read-file serves; unset: /read-file is off")
    metrics_allowed_ips: CommaList = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="IPs or networks that may read /metrics (comma-separated)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="Log level of the JSON logs"
    )
    log_file: Path | None = Field(None, description="Also write JSON logs to this file")
    web_concurrency: int = Field(
        1, ge=1, le=64, description="gunicorn worker processes, each with its own copy of the models"
    )
    worker_threads: int = Field(
        4, ge=1, le=32, description="Requests one worker serves at once, sharing its models (gthread); 1: sync workers"
    )
    processing_timeout_s: float = Field(
        60.0, gt=0, le=100, description="Seconds one image may take before a 504 (below gunicorn's 120 s)"
    )
    model_threads: int = Field(
        default_factory=lambda: min(2, _cores()),
        ge=1,
        le=64,
        validation_alias=AliasChoices("model_threads", "ort_threads"),  # ORT_THREADS: the old name; this one wins
        description="Model threads per worker, for either backend; wins over its old name ORT_THREADS",
    )
    matting_threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Threads of rembg's matting solver (BLAS); unset: MODEL_THREADS ÷ WORKER_THREADS, at least 1",
    )
    inference_backend: Literal["auto", Backend] = Field(
        "auto", description="Runs the model: auto picks OpenVINO when installed, else onnxruntime"
    )
    inference_precision: Literal["auto", Precision] = Field(
        "auto",
        description="Model arithmetic: auto runs each model's int8 build on a VNNI CPU, else bf16 on a bf16 CPU, "
        "else f32",
    )
    image_url_enabled: bool = Field(False, description="Accept `image_url` inputs and fetch them (SSRF-guarded)")
    image_url_allow_hosts: CommaList = Field(
        default_factory=list,
        description="Host names or IP networks fetched even when their addresses are private (comma-separated)",
    )
    image_url_connect_timeout_s: float = Field(3.0, gt=0, le=60, description="Connect timeout per URL fetch")
    image_url_read_timeout_s: float = Field(5.0, gt=0, le=60, description="Timeout of each read of a URL fetch")
    image_url_deadline_s: float = Field(10.0, gt=0, le=100, description="Whole URL fetch, redirects included")
    image_url_max_redirects: int = Field(3, ge=0, le=10, description="Redirects followed, each one checked again")
    image_url_ca_bundle: Path | None = Field(None, description="CA certificates for https URLs; unset: certifi's")
    batch_max_files: int = Field(20, ge=1, le=100, description="Most files in one /remove-background-batch")
    batch_deadline_s: float = Field(
        90.0, gt=0, le=110, description="Processing time of one batch; later files fail (below gunicorn's 120 s)"
    )
    rate_limit_batch_per_hour: int = Field(
        40, ge=1, description="Images through /remove-background-batch per client per hour (a batch of N counts N)"
    )
    api_keys_file: Path | None = Field(None, description="JSON file of hashed API keys; set: keys are required")
    api_keys: CommaList = Field(
        default_factory=list, description="API keys as name:sha256hex[:limit_per_hour] (comma-separated)"
    )
    page_public: bool = Field(False, description="With API keys on, also serve requests without a key per IP")

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("inference_backend", "inference_precision", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator(
        "models", "cors_origins", "metrics_allowed_ips", "image_url_allow_hosts", "api_keys", mode="before"
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("metrics_allowed_ips")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)
        return value

    @field_validator("u2net_home", "read_file_dir", "log_file", "image_url_ca_bundle", "api_keys_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator(
        "redis_url",
        "ratelimit_storage_uri",
        "read_file_dir",
        "log_file",
        "image_url_ca_bundle",
        "api_keys_file",
        "matting_threads",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("cascade_model", mode="before")
    @classmethod
    def _none_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in ("", "none", "off", "false") else value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.cascade_model == self.model_name:
            raise ValueError("CASCADE_MODEL must differ from MODEL_NAME (or be none)")
        if self.min_image_side > self.max_image_side:
            raise ValueError("MIN_IMAGE_SIDE must not exceed MAX_IMAGE_SIDE")
        if self.read_file_dir is not None and not self.read_file_dir.is_dir():
            raise ValueError(f"READ_FILE_DIR is not a directory: {self.read_file_dir}")
        if self.image_url_ca_bundle is not None and not self.image_url_ca_bundle.is_file():
            raise ValueError(f"IMAGE_URL_CA_BUNDLE is not a file: {self.image_url_ca_bundle}")
        if self.inference_backend == "onnxruntime" and self.inference_precision in ("bf16", "int8"):
            raise ValueError(
                f"INFERENCE_PRECISION={self.inference_precision} needs INFERENCE_BACKEND=openvino or auto "
                "(onnxruntime runs f32 only)"
            )
        return self

    @property
    def api_keys_enabled(self) -> bool:
        """API keys are required (or, with PAGE_PUBLIC, honoured) once API_KEYS_FILE or API_KEYS is set."""
        return self.api_keys_file is not None or bool(self.api_keys)

    @property
    def solver_threads(self) -> int:
        """MATTING_THREADS, or the share of the worker's model threads that one of its request threads has."""
        return self.matting_threads or max(1, self.model_threads // self.worker_threads)

    @property
    def limiter_storage_uri(self) -> str:
        """Where Flask-Limiter keeps its counters."""
        return self.ratelimit_storage_uri or self.redis_url or "memory://"

    @property
    def model_names(self) -> list[str]:
        """Every model this process loads: the default first, the cascade's second model, then the extra ones."""
        cascade = [self.cascade_model] if self.cascade_model else []
        return list(dict.fromkeys([self.model_name, *cascade, *self.models]))


def setting_name(field: str) -> str:
    """A field's environment name, with the old names it is still read under: `MODEL_THREADS (or ORT_THREADS)`."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    choices = alias.choices if isinstance(alias, AliasChoices) else []
    old = [str(choice).upper() for choice in choices if choice != field]
    return field.upper() + "".join(f" (or {name})" for name in old)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning a validation failure into one clear message per bad setting."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named and "_env_file" not in overrides:
        if not Path(named).is_file():  # a wrong mount would otherwise drop every setting the file holds, silently
            raise SettingsError(f"{ENV_FILE_VARIABLE} names {named}, which is not a file")
        overrides["_env_file"] = named
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = setting_name(".".join(str(p) for p in err["loc"]))
            if not name:  # a rule across settings: its message names them
                lines.append(f"Invalid settings: {err['msg'].removeprefix('Value error, ')}")
                continue
            got = f" (got {err['input']!r})" if not isinstance(err["input"], dict) else ""
            lines.append(f"Invalid setting {name}: {err['msg']}{got}")
        raise SettingsError("\n".join(lines)) from None
