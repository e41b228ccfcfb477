"""Start-up: bad settings and missing models stop gunicorn at once with a clear message; configs in step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.services import ROOT, free_port


def start_gunicorn(env: dict[str, str]) -> subprocess.CompletedProcess:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return subprocess.run(
        [gunicorn, "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PORT": str(free_port()), **env},
        check=False,
    )


def test_invalid_setting_stops_the_start(tmp_path):
    done = start_gunicorn({"MODEL_THREADS": "many"})
    assert done.returncode != 0
    assert "Invalid setting MODEL_THREADS" in done.stderr


def test_an_invalid_old_name_is_named_too():
    done = start_gunicorn({"ORT_THREADS": "many"})
    assert done.returncode != 0
    assert "Invalid setting MODEL_THREADS (or ORT_THREADS)" in done.stderr


def test_values_that_only_their_user_judges_stop_the_master(tmp_path):
    """API keys and allow-listed hosts are checked by what they configure, before any worker starts."""
    bad_file = tmp_path / "keys.json"
    bad_file.write_text("[1, 2]")
    for env, says in [
        ({"IMAGE_URL_ALLOW_HOSTS": "images.internal, not a host"}, "IMAGE_URL_ALLOW_HOSTS: not a host name"),
        ({"API_KEYS": "ci:0123"}, "API_KEYS: key 'ci' needs a sha256"),
        ({"API_KEYS_FILE": str(bad_file)}, f"API_KEYS_FILE {bad_file}: expected"),
    ]:
        done = start_gunicorn(env)
        assert done.returncode != 0 and "cannot start" in done.stderr and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr


def test_bf16_on_onnxruntime_stops_the_start():
    done = start_gunicorn({"INFERENCE_BACKEND": "onnxruntime", "INFERENCE_PRECISION": "bf16"})
    assert done.returncode != 0
    assert "INFERENCE_PRECISION=bf16 needs INFERENCE_BACKEND=openvino" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_model_stops_the_start_with_the_fix(tmp_path):
    done = start_gunicorn({"U2NET_HOME": str(tmp_path)})
    assert done.returncode != 0
    assert "Model 'u2netp' is not in" in done.stderr and "bgremover models fetch u2netp" in done.stderr
    assert "Traceback" not in done.stderr


def test_compose_nginx_config_is_the_rendered_template():
    from nginx.render import render

    image = re.search(r"image: nginx:(\d+)\.(\d+)", (ROOT / "docker-compose.yml").read_text())
    assert image, "docker-compose.yml names no nginx:X.Y image"
    version = (int(image[1]), int(image[2]), 0)
    expected = render(
        ["app:5001"],
        tls_cert="/etc/nginx/tls/cert.pem",
        tls_key="/etc/nginx/tls/key.pem",
        static_root="/srv/bgremover/static",
        access_log="/dev/stdout",
        version=version,
    )
    assert (ROOT / "nginx" / "compose.conf").read_text() == expected
