"""Settings: defaults, validation that names the setting, and .env.sample kept in step."""

from __future__ import annotations

import ast
import re

import pytest

from bgremover.settings import ENV_FILE_VARIABLE, Settings, SettingsError, load_settings
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
        ({"MODEL_THREADS": "0"}, "MODEL_THREADS"),
        ({"ORT_THREADS": "0"}, "MODEL_THREADS \\(or ORT_THREADS\\)"),  # the old name is named too
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
    by_cores = {"model_threads"}  # its default follows the machine's cores
    s = load_settings(_env_file=None, **{k.lower(): v for k, v in sample.items() if v and k.lower() not in by_cores})
    defaults = load_settings(_env_file=None)
    assert s.model_dump(exclude=by_cores) == defaults.model_dump(exclude=by_cores)


def test_model_threads_and_its_old_name(monkeypatch):
    """MODEL_THREADS is the setting; ORT_THREADS, its old name, still works; given both, MODEL_THREADS wins."""
    monkeypatch.delenv("MODEL_THREADS", raising=False)
    monkeypatch.setenv("ORT_THREADS", "3")
    assert load_settings(_env_file=None).model_threads == 3
    monkeypatch.setenv("MODEL_THREADS", "5")
    assert load_settings(_env_file=None).model_threads == 5
    monkeypatch.delenv("ORT_THREADS")
    assert load_settings(_env_file=None).model_threads == 5


def test_the_old_name_in_a_dotenv_file(monkeypatch, tmp_path):
    monkeypatch.delenv("MODEL_THREADS", raising=False)
    monkeypatch.delenv("ORT_THREADS", raising=False)
    env = tmp_path / ".env"
    env.write_text("ORT_THREADS=4\n")
    assert load_settings(_env_file=env).model_threads == 4
    env.write_text("ORT_THREADS=4\nMODEL_THREADS=1\n")
    assert load_settings(_env_file=env).model_threads == 1


def test_env_file_names_the_dotenv_file_to_read(monkeypatch, tmp_path):
    for name in ("REDIS_URL", "MODEL_THREADS", "ORT_THREADS"):
        monkeypatch.delenv(name, raising=False)
    named = tmp_path / "secrets" / ".env"
    named.parent.mkdir()
    named.write_text("REDIS_URL=redis://127.0.0.1:1/0\nMODEL_THREADS=3\n")
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(named))
    monkeypatch.chdir(tmp_path)  # a .env here is not read when ENV_FILE names another
    (tmp_path / ".env").write_text("MODEL_THREADS=7\n")
    settings = load_settings()
    assert (settings.redis_url, settings.model_threads) == ("redis://127.0.0.1:1/0", 3)
    monkeypatch.setenv("MODEL_THREADS", "2")
    assert load_settings().model_threads == 2  # the environment still comes first
    assert load_settings(_env_file=None).redis_url is None  # an explicit choice of file wins
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(tmp_path / "missing" / ".env"))
    with pytest.raises(SettingsError, match=r"ENV_FILE names .*missing/\.env, which is not a file"):
        load_settings()


def test_settings_import_nothing_of_bgremover():
    """Settings hold plain values: whatever they configure imports them, never the other way round."""
    tree = ast.parse((ROOT / "bgremover" / "settings.py").read_text())
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert imported and not [name for name in imported if name.split(".")[0] == "bgremover"]


def test_the_cascade_model_can_be_turned_off_and_must_differ_from_the_primary(monkeypatch):
    assert load_settings(_env_file=None).model_names == ["u2netp", "u2net"]
    for off in ("none", "", "OFF"):
        monkeypatch.setenv("CASCADE_MODEL", off)
        assert load_settings(_env_file=None).cascade_model is None
        assert load_settings(_env_file=None).model_names == ["u2netp"]
    monkeypatch.setenv("CASCADE_MODEL", "u2netp")
    with pytest.raises(SettingsError, match="CASCADE_MODEL must differ from MODEL_NAME"):
        load_settings(_env_file=None)


def test_the_setting_that_accepts_non_commercial_terms_is_off_by_default(monkeypatch):
    assert load_settings(_env_file=None).accept_noncommercial_models is False
    monkeypatch.setenv("ACCEPT_NONCOMMERCIAL_MODELS", "true")
    assert load_settings(_env_file=None).accept_noncommercial_models is True
    monkeypatch.setenv("ACCEPT_NONCOMMERCIAL_MODELS", "maybe")
    with pytest.raises(SettingsError, match="Invalid setting ACCEPT_NONCOMMERCIAL_MODELS"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("env", "threads"),
    [
        ({"MODEL_THREADS": "2", "WORKER_THREADS": "4"}, 1),  # the defaults on two cores: one each
        ({"MODEL_THREADS": "8", "WORKER_THREADS": "2"}, 4),
        ({"MODEL_THREADS": "1", "WORKER_THREADS": "1"}, 1),
        ({"MODEL_THREADS": "8", "WORKER_THREADS": "2", "MATTING_THREADS": "3"}, 3),  # set: it wins
        ({"MODEL_THREADS": "8", "WORKER_THREADS": "2", "MATTING_THREADS": ""}, 4),  # empty is unset
    ],
)
def test_the_matting_solver_gets_a_request_threads_share_of_the_model_threads(monkeypatch, env, threads):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings(_env_file=None).solver_threads == threads
