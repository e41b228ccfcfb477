"""Settings: defaults, validation that names the setting, and .env.sample kept in step."""

from __future__ import annotations

import re

import pytest

from bgremover.settings import Settings, SettingsError, load_settings
from tests.conftest import ROOT


def test_defaults_match_the_spec():
    s = load_settings(_env_file=None)
    assert (s.host, s.port, s.model_name, s.max_content_length) == ("127.0.0.1", 5001, "u2netp", 16 * 1024 * 1024)
    assert (s.min_image_side, s.max_image_side) == (50, 4096)
    assert s.limiter_storage_uri == "memory://"


@pytest.mark.parametrize(
    "env,name",
    [
        ({"PORT": "http"}, "PORT"),
        ({"ORT_THREADS": "0"}, "ORT_THREADS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"METRICS_ALLOWED_IPS": "not-an-ip"}, "METRICS_ALLOWED_IPS"),
        ({"RATELIMIT_ENABLED": "perhaps"}, "RATELIMIT_ENABLED"),
        ({"PROCESSING_TIMEOUT_S": "200"}, "PROCESSING_TIMEOUT_S"),  # past gunicorn's 120 s: killed, not answered
        ({"INFERENCE_BACKEND": "tpu"}, "INFERENCE_BACKEND"),
        ({"INFERENCE_PRECISION": "fp8"}, "INFERENCE_PRECISION"),
    ],
)
def test_invalid_settings_name_the_setting(monkeypatch, env, name):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=f"Invalid setting {name}"):
        load_settings(_env_file=None)


def test_bf16_on_onnxruntime_is_refused_naming_both_settings(monkeypatch):
    monkeypatch.setenv("INFERENCE_BACKEND", "ONNXRuntime")  # case does not matter
    monkeypatch.setenv("INFERENCE_PRECISION", "bf16")
    with pytest.raises(SettingsError, match="Invalid settings: INFERENCE_PRECISION=bf16 needs INFERENCE_BACKEND"):
        load_settings(_env_file=None)


def test_env_lists_and_redis(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/0")
    s = load_settings(_env_file=None)
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.limiter_storage_uri == "redis://127.0.0.1:6390/0"


def test_env_sample_lists_every_setting_with_its_default():
    text = (ROOT / ".env.sample").read_text()
    names = set(re.findall(r"^([A-Z0-9_]+)=", text, re.M))
    assert names == {name.upper() for name in Settings.model_fields}
    sample = {k: v for k, v in re.findall(r"^([A-Z0-9_]+)=(.*)$", text, re.M)}
    by_cores = {"web_concurrency", "ort_threads"}  # their defaults follow the machine's cores
    s = load_settings(_env_file=None, **{k.lower(): v for k, v in sample.items() if v and k.lower() not in by_cores})
    defaults = load_settings(_env_file=None)
    assert s.model_dump(exclude=by_cores) == defaults.model_dump(exclude=by_cores)


def test_image_limits_follow_the_settings():
    s = load_settings(_env_file=None, min_image_side=64, max_image_side=2000, max_image_pixels=3_000_000)
    assert (s.image_limits.min_side, s.image_limits.max_side, s.image_limits.max_pixels) == (64, 2000, 3_000_000)


def test_the_cascade_model_can_be_turned_off_and_must_differ_from_the_primary(monkeypatch):
    assert load_settings(_env_file=None).model_names == ["u2netp", "u2net"]
    for off in ("none", "", "OFF"):
        monkeypatch.setenv("CASCADE_MODEL", off)
        assert load_settings(_env_file=None).cascade_model is None
        assert load_settings(_env_file=None).model_names == ["u2netp"]
    monkeypatch.setenv("CASCADE_MODEL", "u2netp")
    with pytest.raises(SettingsError, match="CASCADE_MODEL must differ from MODEL_NAME"):
        load_settings(_env_file=None)
