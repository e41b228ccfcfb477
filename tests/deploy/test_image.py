"""The Docker image, without Docker: the Dockerfile's commands run in a scratch root, then its CMD as its USER.

tests/deploy/dockerfile.py says exactly what the emulated build proves and what it does not.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
from PIL import Image as PILImage

from tests.deploy.dockerfile import Image, as_user, build, runtime
from tests.services import free_port, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image() -> Image:
    """The emulated build, in a scratch root other users may enter (pytest's own temp dirs are private)."""
    root = Path(tempfile.mkdtemp(prefix="bgremover-image-"))
    root.chmod(0o755)
    try:
        yield build(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_build_installs_the_package_and_a_verified_model(image):
    assert (image.site / "bgremover" / "app.py").is_file() and (image.site / "bin" / "bgremover").is_file()
    model = image.path(image.env["U2NET_HOME"]) / "u2netp.onnx"
    assert model.stat().st_mode & 0o777 == 0o644  # the build's chmod opened the 0600 file to every user
    assert f"{sys.version_info.major}.{sys.version_info.minor}" == image.python  # the runtime below matches


def test_the_image_defaults_are_safe_alone(image):
    assert image.user != "root" and image.uid and image.uid >= 1000
    assert image.env["TRUSTED_PROXY_HOPS"] == "0"  # behaviour: test_image_runs_as_its_user (forged X-Forwarded-For)
    assert [int(image.env["PORT"])] == image.exposed
    assert f"127.0.0.1:{image.env['PORT']}/health/ready" in image.healthcheck
    for path in image.workdir.rglob("*"):  # the code belongs to root: the service user cannot change it
        assert path.stat().st_uid == 0 and not path.stat().st_mode & stat.S_IWOTH, path


@pytest.fixture(scope="module")
def running(image):
    """The image's CMD as its USER with its ENV (HOST moved to loopback, a free PORT, one worker)."""
    if os.geteuid() != 0:
        pytest.skip("running as the image's user needs root (setpriv)")
    port = free_port()
    env = {**runtime(image), "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": "1"}
    probe = subprocess.run(as_user(image, ["python", "-c", "import flask, onnxruntime"]), env=env, check=False)
    if probe.returncode != 0:
        pytest.skip("the test's virtualenv is not readable by other users")
    log = image.root / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            as_user(image, image.cmd), cwd=image.workdir, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or requests.get(f"{url}/health/ready", timeout=10).ok, 90, "the CMD")
        assert proc.poll() is None, f"the image's CMD exited:\n{log.read_text()[-3000:]}"
        yield {"url": url, "proc": proc, "env": env, "port": port, "log": log}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def test_image_runs_as_its_user(image, running, photo_bytes):
    master = running["proc"].pid
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    assert workers and {uid_of(master), *(uid_of(int(w)) for w in workers)} == {image.uid}
    check = subprocess.run(
        as_user(image, ["sh", "-c", image.healthcheck.replace(image.env["PORT"], str(running["port"]))]),
        env=running["env"],
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, "the HEALTHCHECK command failed"
    page = requests.get(running["url"] + "/", timeout=10)
    assert page.status_code == 200 and "<form" in page.text  # templates found from WORKDIR
    img = PILImage.open(io.BytesIO(photo_bytes)).convert("RGB")
    img.thumbnail((256, 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    r = requests.post(f"{running['url']}/remove-background", files={"file": ("p.jpg", buf.getvalue())}, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"  # the model is readable and runs
    cannot_write = subprocess.run(as_user(image, ["test", "-w", str(image.workdir)]), check=False)
    assert cannot_write.returncode != 0


def test_image_alone_ignores_forged_forwarded_for(running):
    codes = []
    for i in range(25):  # default limit: 20/hour; each from a different forged address
        r = requests.post(
            f"{running['url']}/remove-background-preview",
            files={"file": ("x.jpg", b"not an image")},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
            timeout=10,
        )
        codes.append(r.status_code)
    assert codes[:20] == [415] * 20 and codes[20:] == [429] * 5
