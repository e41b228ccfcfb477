"""The container image, built by `make image` and run by a real engine (podman or docker).

One container runs with no network at all (the models are baked in); a second one, on the host's loopback, sits
behind the host's real nginx beside a host node, both counting rate limits in the host's real Redis, and is then
stopped with SIGTERM while a request is in flight. BGREMOVER_IMAGE names an image already built (`make
test-image` does); without it the module builds one with `make image`.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import time

import numpy as np
import pytest
import requests
import yaml
from PIL import Image
from urllib3 import encode_multipart_formdata

from bgremover.settings import Settings
from tests.deploy.container import Engine
from tests.services import ROOT, AppServer, NginxServer, RedisServer, free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.image,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

# rembg's users report 3-17 GB images; this one has the runtime and models only: 1.42 GB before the int8 IRs (47 MB)
# and Babel's locale data (36 MB) for the page's languages came in, 1.51 GB with them
MAX_IMAGE_BYTES = 1_600_000_000

# Runs inside the container: POST stdin as a multipart photo to the node, write the answer to stdout.
CLIENT = r"""
import http.client, os, sys, uuid
body, boundary = sys.stdin.buffer.read(), uuid.uuid4().hex
data = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
        'Content-Type: image/jpeg\r\n\r\n').encode() + body + f'\r\n--{boundary}--\r\n'.encode()
conn = http.client.HTTPConnection('127.0.0.1', int(os.environ['PORT']), timeout=110)
conn.request('POST', sys.argv[1], data, {'Content-Type': f'multipart/form-data; boundary={boundary}'})
answer = conn.getresponse()
sys.stdout.buffer.write(answer.read())
sys.exit(0 if answer.status == 200 else answer.status)
"""

# Runs inside the container: every model the default settings load is there and valid, as gunicorn checks at start.
MODELS = """
import json
from bgremover.models.registry import ModelRegistry
from bgremover.settings import load_settings
settings = load_settings()
registry = ModelRegistry(settings.u2net_home)
sizes = {name: registry.locate(name).stat().st_size for name in settings.model_names}
print(json.dumps({"home": str(settings.u2net_home), "models": settings.model_names, "sizes": sizes}))
"""

# Runs inside the container: 25 bad previews, each from another forged X-Forwarded-For; the status codes.
FORGED = """
import json, os, urllib.error, urllib.request
from urllib3 import encode_multipart_formdata
body, content_type = encode_multipart_formdata({'file': ('x.jpg', b'not an image')})
codes = []
for i in range(25):
    request = urllib.request.Request('http://127.0.0.1:%s/remove-background-preview' % os.environ['PORT'],
        data=body, headers={'X-Forwarded-For': f'198.51.100.{i}', 'Content-Type': content_type})
    try:
        codes.append(urllib.request.urlopen(request).status)
    except urllib.error.HTTPError as exc:
        codes.append(exc.code)
print(json.dumps(codes))
"""

# Runs inside the container: the page (its templates found beside the package) and whether the code is writable.
PAGE = """
import json, os, urllib.request
page = urllib.request.urlopen('http://127.0.0.1:%s/' % os.environ['PORT']).read().decode()
paths = ('/app', '/app/bgremover', '/opt/venv', '/opt/models')
print(json.dumps({"form": "<form" in page, "writable": [p for p in paths if os.access(p, os.W_OK)]}))
"""

# Runs inside the container: the uid of every process, and the network interfaces it has.
PROCESSES = """
import glob, json, os
uids = {}
for status in glob.glob('/proc/[0-9]*/status'):
    with open(status) as f:
        uids[status.split('/')[2]] = int(next(l for l in f if l.startswith('Uid:')).split()[1])
print(json.dumps({"uids": uids, "pid1": open('/proc/1/cmdline').read().split(chr(0))[:3],
                  "interfaces": [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]],
                  "me": os.getuid(), "group": os.getgid()}))
"""


@pytest.fixture(scope="module")
def engine():
    found = Engine.find()
    yield found
    found.cleanup()


@pytest.fixture(scope="module")
def image(engine) -> str:
    """The image under test: BGREMOVER_IMAGE, or one built now with `make image`."""
    name = os.environ.get("BGREMOVER_IMAGE")
    if not name:
        name = "localhost/bgremover:test"
        engine.build(name)
    return name


@pytest.fixture(scope="module")
def config(engine, image) -> dict:
    """The image's configuration; podman reports the HEALTHCHECK beside it, docker inside it."""
    found = engine.inspect(image)
    return {**found["Config"], "Healthcheck": found["Config"].get("Healthcheck") or found.get("Healthcheck")}


def start_period_s(config) -> float:
    return config["Healthcheck"]["StartPeriod"] / 1e9  # nanoseconds in both engines' inspect output


@pytest.fixture(scope="module")
def offline(engine, image, config) -> dict:
    """The image as it ships, with no network at all and, as Kubernetes runs it, a read-only root and a /tmp.

    One worker, so one rate-limit count.
    """
    name = engine.run(image, "--network=none", "--read-only", "--tmpfs=/tmp", env={"WEB_CONCURRENCY": "1"})
    return {"name": name, "ready_after_s": engine.wait_ready(name, 3 * start_period_s(config))}


def test_the_image_defaults_are_safe_alone(config):
    assert config["User"] and config["User"] not in ("root", "0")
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["TRUSTED_PROXY_HOPS"] == "0"  # published alone, no X-Forwarded-For is believed
    assert list(config["ExposedPorts"]) == [f"{env['PORT']}/tcp"] and env["HOST"] == "0.0.0.0"
    assert config["Healthcheck"]["Test"][0] == "CMD-SHELL" and "/health/ready" in config["Healthcheck"]["Test"][1]


def test_the_image_is_lean(engine, image):
    size = engine.inspect(image)["Size"]
    assert size < MAX_IMAGE_BYTES, f"{size / 1e6:.0f} MB"
    look = "import importlib.util as u, shutil, os; print(u.find_spec('pip'), shutil.which('gcc'), shutil.which('cc'),"
    look += " os.path.exists('/root/.cache/pip'), os.path.exists('/run/secrets/ca-bundle'))"
    done = engine("run", "--rm", "--network=none", "--user=root", image, "python", "-c", look)
    assert done.stdout.decode().split() == ["None", "None", "None", "False", "False"]  # no pip, compiler, cache, CA
    history = engine("history", "--no-trunc", "--format={{.CreatedBy}}", image).stdout.decode()
    assert "pip" not in history.lower() and "models fetch" not in history  # the build stage stayed behind


def test_it_runs_as_its_user_with_no_network(engine, offline):
    done = engine.exec(offline["name"], ["python", "-c", PROCESSES])
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["me"] != 0 and set(seen["uids"].values()) == {seen["me"]}  # gunicorn, its workers, this probe
    assert seen["pid1"][1].endswith("/gunicorn") and len(seen["uids"]) >= 3  # master (python gunicorn), a worker
    assert seen["interfaces"] == ["lo"]
    deployment = yaml.safe_load((ROOT / "deploy" / "kubernetes" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    assert (seen["me"], seen["group"]) == (pod["runAsUser"], pod["runAsGroup"])  # the manifest's numbers are its


def test_the_models_the_defaults_load_are_baked_in(engine, offline):
    done = engine.exec(offline["name"], ["python", "-c", MODELS])
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    found = json.loads(done.stdout)
    assert found["home"] == "/opt/models"
    assert found["models"] == Settings.model_construct().model_names  # the code's defaults, whatever they become
    assert all(size > 1_000_000 for size in found["sizes"].values()), found["sizes"]


def test_the_healthcheck_passes_and_ready_comes_within_the_start_period(engine, offline, config):
    assert offline["ready_after_s"] <= start_period_s(config), f"ready after {offline['ready_after_s']:.1f} s"
    check = engine.exec(offline["name"], ["sh", "-c", config["Healthcheck"]["Test"][1]], timeout=30)
    assert check.returncode == 0, check.stderr
    if engine.binary.endswith("podman"):  # and as the engine itself runs the stored check
        assert engine("healthcheck", "run", offline["name"], check=False, timeout=60).returncode == 0


def test_the_page_is_served_and_the_code_is_read_only(engine, offline):
    done = engine.exec(offline["name"], ["python", "-c", PAGE])
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads(done.stdout) == {"form": True, "writable": []}


def test_published_alone_it_believes_no_forwarded_for(engine, offline):
    done = engine.exec(offline["name"], ["python", "-c", FORGED], timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads(done.stdout) == [415] * 20 + [429] * 5  # default preview limit: 20 an hour per client


def cutout_of(png: bytes, size: tuple[int, int]) -> np.ndarray:
    """The alpha of a result, after checking it is a PNG cut-out of the photo's size."""
    result = Image.open(io.BytesIO(png))
    assert result.format == "PNG" and result.mode == "RGBA" and result.size == size
    return np.asarray(result)[:, :, 3]


def test_a_real_photo_gives_a_cutout(engine, offline, photo_bytes):
    done = engine.exec(offline["name"], ["python", "-c", CLIENT, "/remove-background"], input=photo_bytes, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    alpha = cutout_of(done.stdout, Image.open(io.BytesIO(photo_bytes)).size)
    assert (alpha == 0).mean() > 0.2 and (alpha == 255).mean() > 0.1  # background gone, the car kept


@pytest.fixture(scope="module")
def behind_nginx(engine, image, config, tmp_path_factory):
    """Redis and nginx on the host; behind nginx, the image on the host's loopback and a node of the checkout."""
    work = tmp_path_factory.mktemp("image-stack")
    env = {"TRUSTED_PROXY_HOPS": "1", "RATE_LIMIT_PREVIEW_PER_HOUR": "4", "WEB_CONCURRENCY": "1"}
    with contextlib.ExitStack() as started:
        redis = RedisServer(work)
        started.callback(redis.stop)
        redis.start()
        env["REDIS_URL"] = redis.url
        port = free_port()
        name = engine.run(image, "--network=host", env={**env, "HOST": "127.0.0.1", "PORT": str(port)})
        host_node = AppServer(env, work)
        started.callback(host_node.stop)
        nginx = NginxServer(work, [f"127.0.0.1:{port}", f"127.0.0.1:{host_node.port}"])
        started.callback(nginx.stop)
        engine.wait_ready(name, 3 * start_period_s(config))
        host_node.start()
        nginx.start()
        yield {"name": name, "url": f"http://127.0.0.1:{port}", "nginx": nginx, "redis": redis, "port": port}


def test_behind_nginx_it_shares_rate_limits_through_redis(behind_nginx):
    nginx = behind_nginx["nginx"]
    codes = []
    for i in range(6):  # a forged X-Forwarded-For each time: with one trusted hop, nginx's own entry counts
        r = requests.post(
            f"{nginx.url}/remove-background-preview",
            files={"file": ("x.jpg", b"not an image")},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
            verify=False,
            timeout=30,
        )
        codes.append(r.status_code)
    assert codes == [415] * 4 + [429] * 2
    entries = [json.loads(line) for line in nginx.access_log.read_text().splitlines()]
    served = {entry["upstream"] for entry in entries if entry["uri"] == "/remove-background-preview"}
    assert f"127.0.0.1:{behind_nginx['port']}" in served and len(served) == 2, served  # both nodes counted
    assert any(b"127.0.0.1" in key for key in behind_nginx["redis"].keys("*"))  # the client nginx saw, in Redis


def test_sigterm_drains_the_request_in_flight_and_exits_0(engine, behind_nginx, photo_bytes):
    body, content_type = encode_multipart_formdata({"file": ("p.jpg", photo_bytes, "image/jpeg")})
    conn = http.client.HTTPConnection("127.0.0.1", behind_nginx["port"], timeout=120)
    conn.putrequest("POST", "/remove-background")
    conn.putheader("Content-Type", content_type)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders()
    half = len(body) // 2
    conn.send(body[:half])  # the worker has taken the request and waits for the rest of its body
    time.sleep(1.0)
    engine("kill", "--signal=TERM", behind_nginx["name"])
    time.sleep(1.0)
    assert engine.inspect(behind_nginx["name"])["State"]["Running"], "gunicorn quit with a request in flight"
    conn.send(body[half:])
    answer = conn.getresponse()
    assert answer.status == 200 and cutout_of(answer.read(), Image.open(io.BytesIO(photo_bytes)).size).any()
    conn.close()
    exit_code = engine("wait", behind_nginx["name"], timeout=60).stdout.decode().split()[-1]
    assert exit_code == "0", engine.logs(behind_nginx["name"])
