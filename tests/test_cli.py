"""The command line on real files: a folder with one broken file, and the model listing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from PIL import Image

from bgremover.models.backends import cpu_flags, vnni_supported
from bgremover.models.int8 import int8_file
from tests.conftest import ROOT
from tests.services import AppServer, free_port


def bgremover(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command line in a child process, with these environment variables on top of the test's."""
    return subprocess.run(
        [sys.executable, "-m", "bgremover.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_folder_with_a_broken_file(tmp_path, data_dir):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg", src / "car.jpg")
    shutil.copy(
        data_dir / "duts-te-150" / "images" / sorted((data_dir / "duts-te-150" / "images").iterdir())[0].name,
        src / "sub" / "photo.jpg",
    )
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    (src / "notes.txt").write_text("not an image, and not picked up by folder expansion")
    done = bgremover("remove", str(src), "-o", str(tmp_path / "out"), "--format", "webp", "--max-width", "200")
    assert done.returncode == 1
    assert "broken.png" in done.stderr and "could not be decoded" in done.stderr
    assert "2 done, 1 failed" in done.stderr
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["car-no-bg.webp", "photo-no-bg.webp"]
    assert Image.open(tmp_path / "out" / "car-no-bg.webp").width == 200


def test_single_file_success_exit_code(tmp_path, data_dir):
    done = bgremover(
        "remove",
        str(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"),
        "-o",
        str(tmp_path),
        "--trim",
        "--bg-color",
        "#fff",
        "--format",
        "jpg",
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "car-1-no-bg.jpg").format == "JPEG"


def test_bad_option_is_a_usage_error(tmp_path, data_dir):
    done = bgremover("remove", str(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"), "--quality", "5")
    assert done.returncode == 2 and "quality" in done.stderr


def models_listing(home: Path, **env: str) -> tuple[dict[str, str], str]:
    """`bgremover models` for U2NET_HOME=home: each model's line (after its name) and the `Inference:` line."""
    done = bgremover("models", env={"U2NET_HOME": str(home), **env})
    assert done.returncode == 0, done.stderr
    lines = dict(re.findall(r"^  (\S+) +(.*)$", done.stdout, re.M))
    inference = re.search(r"^Inference: (.*)$", done.stdout, re.M)
    assert inference, done.stdout
    return lines, inference.group(1)


def test_models_lists_what_is_in_u2net_home_and_each_ones_role(tmp_path, settings):
    """The listing follows the files (present with its size, or missing) and the settings ([default], [cascade])."""
    shutil.copy(settings.u2net_home / "u2netp.onnx", tmp_path / "u2netp.onnx")
    lines, _ = models_listing(tmp_path, MODEL_NAME="u2netp", CASCADE_MODEL="u2net")
    assert lines["u2netp"].startswith("present (4.6 MB)") and lines["u2netp"].endswith("[default]")
    assert lines["u2net"] == "missing  [cascade]" and "u2net_human_seg" in lines and "birefnet-general" in lines
    assert sum(line.endswith(("[default]", "[cascade]")) for line in lines.values()) == 2

    lines, _ = models_listing(tmp_path, MODEL_NAME="u2net", CASCADE_MODEL="none")  # the roles follow the settings
    assert lines["u2net"] == "missing  [default]"
    assert lines["u2netp"].startswith("present (4.6 MB)") and not lines["u2netp"].endswith("]")  # no role now

    (tmp_path / "u2netp.onnx").unlink()
    lines, _ = models_listing(tmp_path, MODEL_NAME="u2netp", CASCADE_MODEL="none")
    assert lines["u2netp"].startswith("missing") and lines["u2netp"].endswith("[default]")
    assert lines["u2net"] == "missing"


def test_models_prints_each_ones_licence_under_it(tmp_path):
    from bgremover.models.catalog import CATALOG, UNSERVED

    done = bgremover("models", env={"U2NET_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    printed = dict(re.findall(r"^  (\S+) +.*\n {27}licence (.+)$", done.stdout, re.M))
    assert printed == {name: str(row.licence) for name, row in {**CATALOG, **UNSERVED}.items()}
    assert printed["silueta"].startswith("unknown, see https://")
    assert "ACCEPT_NONCOMMERCIAL_MODELS" in printed["bria-rmbg"]
    served_after = done.stdout.split("not served here:")[1]
    assert "withoutbg" in served_after and "bria-rmbg" not in served_after


def test_models_says_which_backend_precision_and_threads_would_run(settings):
    """Explicit settings are echoed as they are; `auto` is what OpenVINO itself reports for this CPU."""
    import openvino

    home = settings.u2net_home
    _, runs = models_listing(home, INFERENCE_BACKEND="onnxruntime", MODEL_THREADS="3")
    assert runs.startswith("onnxruntime, f32, 3 thread(s) per worker (INFERENCE_BACKEND=onnxruntime,")
    _, runs = models_listing(home, INFERENCE_BACKEND="openvino", INFERENCE_PRECISION="f32", ORT_THREADS="1")
    assert runs.startswith("openvino, f32, 1 thread(s) per worker")
    bf16 = "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    built = all(int8_file(n, home) for n in settings.model_names)  # `make model` builds them on a VNNI CPU
    auto = "int8" if vnni_supported(cpu_flags()) and built else "bf16" if bf16 else "f32"
    _, runs = models_listing(home, INFERENCE_BACKEND="auto", INFERENCE_PRECISION="auto", MODEL_THREADS="2")
    assert runs == f"openvino, {auto}, 2 thread(s) per worker " + ("(INFERENCE_BACKEND=auto, INFERENCE_PRECISION=auto)")


def test_needs_int8_names_the_models_to_build_where_the_settings_run_int8(tmp_path, settings):
    """The Makefile's question: exit 0 and the names where a build is missing and the settings run int8, else 1."""
    shutil.copy(settings.u2net_home / "u2netp.onnx", tmp_path / "u2netp.onnx")
    env = {"U2NET_HOME": str(tmp_path), "CASCADE_MODEL": "none"}
    done = bgremover("models", "needs-int8", env={**env, "INFERENCE_PRECISION": "int8"})
    assert done.returncode == 0 and done.stdout.split() == ["u2netp"]
    done = bgremover("models", "needs-int8", env={**env, "INFERENCE_PRECISION": "f32"})
    assert done.returncode == 1 and done.stdout.split() == ["none"]
    done = bgremover("models", "needs-int8", env={**env, "INFERENCE_PRECISION": "auto"})
    assert done.returncode == (0 if vnni_supported(cpu_flags()) else 1)  # auto runs int8 on a VNNI CPU only


def test_fetch_without_the_int8_extra_says_so_and_leaves_the_float_model(tmp_path, settings, monkeypatch):
    """Where the settings run int8 but NNCF is not importable, fetch provisions the files and says what builds."""
    from click.testing import CliRunner

    from bgremover.cli import main

    shutil.copy(settings.u2net_home / "u2netp.onnx", tmp_path / "u2netp.onnx")
    for key, value in {"U2NET_HOME": str(tmp_path), "CASCADE_MODEL": "none", "INFERENCE_PRECISION": "auto"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("bgremover.cli._runs_int8", lambda settings: True)  # as on a VNNI CPU
    monkeypatch.setattr("bgremover.models.int8_build.nncf_installed", lambda: False)
    done = CliRunner().invoke(main, ["models", "fetch"])
    assert done.exit_code == 0, done.output
    assert "no int8 build, so bf16 or f32 runs" in done.stderr and "make model" in done.stderr
    assert not (tmp_path / "u2netp-int8").exists()


def test_models_refuses_what_cannot_run(settings):
    done = bgremover("models", env={"INFERENCE_BACKEND": "onnxruntime", "INFERENCE_PRECISION": "bf16"})
    assert done.returncode != 0 and "INFERENCE_PRECISION=bf16 needs INFERENCE_BACKEND" in done.stderr


def test_serve_refuses_a_bad_option_naming_the_setting_it_overrides():
    done = bgremover("serve", "--workers", "0", env={"WEB_CONCURRENCY": "2"})
    assert done.returncode == 1 and "Invalid setting WEB_CONCURRENCY" in done.stderr and "got '0'" in done.stderr
    done = bgremover("serve", "--port", "70000")
    assert done.returncode == 1 and "Invalid setting PORT" in done.stderr


@pytest.mark.slow
def test_serve_runs_gunicorn_whose_options_win_over_the_environment(tmp_path):
    """HOST, PORT, WEB_CONCURRENCY and WORKER_THREADS say one thing, the options another: the options are served."""
    server = AppServer(
        {"PORT": str(free_port()), "HOST": "0.0.0.0", "WEB_CONCURRENCY": "3", "WORKER_THREADS": "4"},
        tmp_path,
        command=[sys.executable, "-m", "bgremover.cli"],  # completed with the options below
        cwd=tmp_path,
    )
    server.env.update(CASCADE_MODEL="none", PYTHONPATH=str(ROOT))
    server.command += ["serve", "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1", "--threads", "1"]
    server.start(timeout=120)
    try:
        health = requests.get(f"{server.url}/health", timeout=10).json()
        assert health["checks"]["rate_limits"]["workers"] == 1  # --workers 1, not WEB_CONCURRENCY=3
        log = server.log.read_text()
        assert f"Listening at: http://127.0.0.1:{server.port}" in log and "Using worker: sync" in log  # --threads 1
        assert server.proc.pid == int(re.search(r"\[(\d+)\] \[INFO\] Starting gunicorn", log).group(1))  # exec'd
    finally:
        server.stop()
    assert server.proc.returncode == 0 and "Shutting down: Master" in server.log.read_text()
