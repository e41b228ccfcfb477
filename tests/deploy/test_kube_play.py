"""The kustomize base run as pods by `podman kube play`: the app Deployment (its ConfigMap, Secret, probes and
securityContext) with the image `make image` built, beside the base's Redis.

The base is rendered by `kubectl kustomize` through an overlay that does what an operator's overlay does (the
local image names, `imagePullPolicy: Never`) and publishes each container port on 127.0.0.1 only. Podman plays
Deployments and Pods; the Redis StatefulSet is played as the Pod it would create, named after its Service (on
podman's network a pod's name is its DNS name, so the Secret's REDIS_URL reaches it as it would in a cluster).
The Secrets are stored as this podman reads them (see `store_secrets`). What podman cannot play is listed in
NOT_PLAYED and stays checked offline by test_kubernetes.py (schemas, checkov, selectors); docs/operations.md
lists it too. The pod must be ready by its own probes, serve a real cut-out on the published port, count its
limits in the played Redis, run as the manifest's user on a read-only root, and stop cleanly on `kube down`.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
import yaml
from PIL import Image

from tests.deploy.container import Engine, _missing
from tests.deploy.test_image import PROCESSES, cutout_of
from tests.deploy.test_kubernetes import KDIR, kustomize, the
from tests.services import ROOT, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.image]

# Kinds of the base that podman plays (a StatefulSet as its Pod), and those it cannot: docs/operations.md says
# what checks each of these instead.
PLAYED = {"ConfigMap", "Secret", "Deployment", "StatefulSet"}
NOT_PLAYED = {
    "Namespace",
    "ServiceAccount",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Ingress",
    "NetworkPolicy",
}
COMPONENT_KINDS = {"ServiceMonitor"}  # in components/, not the base: never played either
REDIS_IMAGE = os.environ.get("REDIS_IMAGE", "localhost/bgremover-redis:bookworm")  # `make redis-image`
# `podman exec` itself takes time (a runtime exec per probe); added to each probe's timeoutSeconds.
EXEC_OVERHEAD_S = 10
DOWN_TIMEOUT_S = 120


def split_image(ref: str) -> tuple[str, str]:
    """An image reference as kustomize's images transformer takes it: name and tag."""
    name, _, tag = ref.rpartition(":")
    return (name, tag) if name and "/" not in tag else (ref, "latest")


def overlay(directory: Path, app_image: str, ports: dict[str, int]) -> Path:
    """An overlay of the base: local images, never pulled, each workload's port published on 127.0.0.1."""
    directory.mkdir()
    images = []
    for name, ref in (("bgremover", app_image), ("redis", REDIS_IMAGE)):
        new_name, tag = split_image(ref)
        images.append({"name": name, "newName": new_name, "newTag": tag})
    patches = []
    for kind, name in (("Deployment", "bgremover"), ("StatefulSet", "bgremover-redis")):
        container = "/spec/template/spec/containers/0"
        ops = [
            {"op": "replace", "path": f"{container}/imagePullPolicy", "value": "Never"},
            {"op": "add", "path": f"{container}/ports/0/hostPort", "value": ports[name]},
            {"op": "add", "path": f"{container}/ports/0/hostIP", "value": "127.0.0.1"},
        ]
        patches.append({"target": {"kind": kind, "name": name}, "patch": yaml.safe_dump(ops)})
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(KDIR, directory)],
        "images": images,
        "patches": patches,
    }
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return directory


def pod_of(statefulset: dict, service: dict) -> dict:
    """The Pod a StatefulSet creates, named after the Service that selects it (its DNS name on podman's network)."""
    template = statefulset["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items()), "the Service misses the pod"
    port = next(
        p for p in template["spec"]["containers"][0]["ports"] if p["name"] == service["spec"]["ports"][0]["targetPort"]
    )
    assert service["spec"]["ports"][0]["port"] == port["containerPort"]  # podman maps no Service port
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": service["metadata"]["name"], "labels": labels},
        "spec": copy.deepcopy(template["spec"]),
    }


def pod_spec(workload: dict) -> dict:
    """The pod spec of a Pod, or of a Deployment's or StatefulSet's template."""
    return workload["spec"]["template"]["spec"] if "template" in workload["spec"] else workload["spec"]


def podman_version(engine: Engine) -> tuple[int, ...]:
    text = engine("version", "--format", "{{.Client.Version}}").stdout.decode().strip()
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


def secret_payload(secret: dict, version: tuple[int, ...]) -> str:
    """The Secret as this podman's kube play reads it back for a secret volume.

    From 4.4 on, the document itself. Podman 4.3 (Debian 12's) reads no `stringData` and writes a volume's files
    from `data` without decoding it, so there the values go in `data` as they are: what a cluster's API server
    would have stored from `stringData`, in the form this podman reads.
    """
    if version >= (4, 4):
        return yaml.safe_dump(secret)
    return yaml.safe_dump({**{k: v for k, v in secret.items() if k != "stringData"}, "data": secret["stringData"]})


def names(engine: Engine, what: str) -> set[str]:
    """The names of podman's pods, volumes or secrets."""
    listing = engine(what, "ls", "--format", "{{.Name}}").stdout.decode()
    return set(listing.split())


@pytest.fixture(scope="module")
def podman() -> Iterator[Engine]:
    found = Engine.find()
    if not found.binary.endswith("podman"):
        _missing(f"`kube play` is podman's; the engine here is {found.binary}")
    yield found
    found.cleanup()


@pytest.fixture(scope="module")
def images(podman) -> dict[str, str]:
    app_image = os.environ.get("BGREMOVER_IMAGE", "localhost/bgremover:latest")
    for ref, make in ((app_image, "make image"), (REDIS_IMAGE, "make redis-image")):
        if podman("image", "exists", ref, check=False).returncode != 0:
            _missing(f"no image {ref}: build it with `{make}` (docs/operations.md, Kubernetes)")
    return {"app": app_image, "redis": REDIS_IMAGE}


@pytest.fixture(scope="module")
def played(podman, images, tmp_path_factory) -> Iterator[dict]:
    """The base rendered, its playable part played, the app ready by its probes; torn down afterwards."""
    work = tmp_path_factory.mktemp("kube-play")
    ports = {"bgremover": free_port(), "bgremover-redis": free_port()}
    rendered = kustomize(overlay(work / "overlay", images["app"], ports))
    kinds = {r["kind"] for r in rendered}
    assert kinds == PLAYED | NOT_PLAYED, f"a kind neither played nor listed: {kinds ^ (PLAYED | NOT_PLAYED)}"
    deployment = the("Deployment", "bgremover", rendered)
    redis_pod = pod_of(the("StatefulSet", "bgremover-redis", rendered), the("Service", "bgremover-redis", rendered))
    workloads = [redis_pod, deployment]
    played_yaml = work / "played.yaml"
    played_yaml.write_text(yaml.safe_dump_all([r for r in rendered if r["kind"] == "ConfigMap"] + workloads))

    before = {what: names(podman, what) for what in ("pod", "volume", "secret")}
    secrets = [r for r in rendered if r["kind"] == "Secret"]
    volume_names = {v["name"] for w in workloads for v in pod_spec(w)["volumes"]}
    clash = (before["secret"] & {s["metadata"]["name"] for s in secrets}) | (before["volume"] & volume_names)
    assert not clash, f"left from an earlier run (podman kube down, then podman volume/secret rm): {sorted(clash)}"
    version = podman_version(podman)
    try:
        for secret in secrets:
            name = secret["metadata"]["name"]
            payload = secret_payload(secret, version)
            podman("secret", "create", name, "-", input=payload.encode())
        podman("kube", "play", str(played_yaml), timeout=300)
        pods = names(podman, "pod") - before["pod"]
        app = workload_container(podman, pods, deployment["metadata"]["name"])
        redis_container = workload_container(podman, pods, redis_pod["metadata"]["name"])
        password = the("Secret", "bgremover-redis", rendered)["stringData"]["auth.conf"].split()[1]
        store = redis.Redis(host="127.0.0.1", port=ports["bgremover-redis"], password=password, socket_timeout=5)
        wait_for(store.ping, 60, "the played Redis")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        ready_after_s = wait_started(podman, app, container["startupProbe"])
        yield {
            "engine": podman,
            "app": app,
            "redis": redis_container,
            "store": store,
            "rendered": rendered,
            "container": container,
            "yaml": played_yaml,
            "url": f"http://127.0.0.1:{ports['bgremover']}",
            "ready_after_s": ready_after_s,
            "ports": ports,
            "pods": pods,
        }
    finally:
        podman("kube", "down", str(played_yaml), check=False, timeout=DOWN_TIMEOUT_S)
        for what in ("volume", "secret"):
            made = names(podman, what) - before[what]
            if made:
                podman(what, "rm", *sorted(made), check=False)


def workload_container(engine: Engine, pods: set[str], workload: str) -> str:
    """The one container (not the infra container) of the pod played for a workload (a Pod, or a Deployment's)."""
    mine = [pod for pod in pods if pod == workload or re.fullmatch(rf"{re.escape(workload)}-pod(-\d+)?", pod)]
    assert len(mine) == 1, f"pods played: {sorted(pods)}"
    listing = engine("ps", "--all", "--filter", f"pod={mine[0]}", "--format", "{{.Names}} {{.IsInfra}}").stdout
    found = [line.split()[0] for line in listing.decode().splitlines() if line.split()[1] == "false"]
    assert len(found) == 1, listing
    return found[0]


def run_probe(engine: Engine, container: str, probe: dict) -> subprocess.CompletedProcess | None:
    """An exec probe run as the kubelet runs it, in the container; None when it outlasts its timeout."""
    try:
        return engine.exec(container, probe["exec"]["command"], timeout=probe["timeoutSeconds"] + EXEC_OVERHEAD_S)
    except subprocess.TimeoutExpired:
        return None


def wait_started(engine: Engine, container: str, probe: dict) -> float:
    """Seconds until the startup probe passes, tried every periodSeconds at most failureThreshold times."""
    start = time.monotonic()
    for _ in range(probe["failureThreshold"]):
        done = run_probe(engine, container, probe)
        if done is not None and done.returncode == 0:
            return time.monotonic() - start
        state = engine.inspect(container)["State"]
        if not state["Running"]:
            raise AssertionError(f"the app exited ({state['ExitCode']}):\n{engine.logs(container)}")
        time.sleep(probe["periodSeconds"])
    raise AssertionError(f"the startup probe failed {probe['failureThreshold']} times:\n{engine.logs(container)}")


def test_the_docs_say_what_checks_each_kind_podman_cannot_play():
    page = (ROOT / "docs" / "operations.md").read_text()
    section = page[page.index("**Played with podman.**") : page.index("What podman (Debian")]
    rows = {m.group(1) for m in re.finditer(r"^\| ([A-Z]\w+)[^|]*\| \w", section, re.M)}
    assert rows == NOT_PLAYED | COMPONENT_KINDS


def test_only_loopback_ports_are_published(played):
    for container in (played["app"], played["redis"]):
        bindings = played["engine"].inspect(container)["NetworkSettings"]["Ports"]  # the pod's, in its network
        published = {(b["HostIp"], int(b["HostPort"])) for found in bindings.values() if found for b in found}
        assert published and all(ip == "127.0.0.1" for ip, _ in published), published
    assert {port for _, port in published} <= set(played["ports"].values())


def test_the_pod_is_ready_by_its_own_probes(played):
    engine, app, container = played["engine"], played["app"], played["container"]
    startup = container["startupProbe"]
    assert played["ready_after_s"] <= startup["periodSeconds"] * startup["failureThreshold"]
    ready = run_probe(engine, app, container["readinessProbe"])
    assert ready is not None and ready.returncode == 0, ready and ready.stderr
    # podman keeps the liveness probe as the container's healthcheck, and runs it itself
    health = engine.inspect(app)["Config"]["Healthcheck"]
    live = container["livenessProbe"]
    command = live["exec"]["command"]  # podman 4.3 keeps it as a shell line (CMD-SHELL … || exit 1), later as is
    assert health["Test"][0] in ("CMD", "CMD-SHELL") and health["Test"][1 : 1 + len(command)] == command, health
    assert (health["Interval"], health["Retries"]) == (live["periodSeconds"] * 10**9, live["failureThreshold"])
    assert engine("healthcheck", "run", app, check=False, timeout=60).returncode == 0
    failing = engine.exec(app, [*live["exec"]["command"][:-1], "/no-such-path"], timeout=60)
    assert failing.returncode == 1 and b"404" in failing.stderr  # the probe can fail


def test_a_real_photo_comes_back_cut_out_on_the_published_port(played, photo_bytes):
    answer = requests.post(
        f"{played['url']}/remove-background", files={"file": ("car.jpg", photo_bytes, "image/jpeg")}, timeout=120
    )
    assert answer.status_code == 200, answer.text[:500]
    alpha = cutout_of(answer.content, Image.open(io.BytesIO(photo_bytes)).size)
    assert (alpha == 0).mean() > 0.2 and (alpha == 255).mean() > 0.1  # background gone, the car kept


def test_limits_are_counted_in_the_played_redis(played):
    def limited() -> requests.Response:
        bad = {"file": ("x.jpg", b"not an image")}
        return requests.post(f"{played['url']}/remove-background-preview", files=bad, timeout=60)

    keys_before = set(played["store"].keys("*"))
    answers = [limited() for _ in range(3)]  # two workers: each request may reach either
    assert [a.status_code for a in answers] == [415] * 3
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2], remaining  # one count for the pod
    new_keys = set(played["store"].keys("*")) - keys_before
    assert any(b"preview" in key for key in new_keys), new_keys
    health = requests.get(f"{played['url']}/health", timeout=30).json()
    assert health["checks"]["redis"]["status"] == "ok", health
    assert health["checks"]["rate_limits"]["scope"] == "global", health


def test_it_runs_as_the_manifests_user_on_a_read_only_root(played):
    engine, app = played["engine"], played["app"]
    pod = the("Deployment", "bgremover", played["rendered"])["spec"]["template"]["spec"]["securityContext"]
    ids = [engine.exec(app, ["id", flag]).stdout.decode().strip() for flag in ("-u", "-g")]
    assert ids == [str(pod["runAsUser"]), str(pod["runAsGroup"])]
    seen = json.loads(engine.exec(app, ["python", "-c", PROCESSES]).stdout)
    assert set(seen["uids"].values()) == {pod["runAsUser"]}  # gunicorn, its workers, this check
    root = engine.exec(app, ["sh", "-c", ": > /written-by-the-test"])
    assert root.returncode != 0 and b"Read-only file system" in root.stderr
    mounts = {m["Destination"] for m in engine.inspect(app)["Mounts"] if m["RW"]}
    volumes = {m["mountPath"] for m in played["container"]["volumeMounts"] if not m.get("readOnly")}
    assert volumes <= mounts
    for path in sorted(volumes):
        assert engine.exec(app, ["sh", "-c", f": > {path}/written-by-the-test"]).returncode == 0, path
    redis_pod = the("StatefulSet", "bgremover-redis", played["rendered"])["spec"]["template"]["spec"]
    assert engine.exec(played["redis"], ["id", "-u"]).stdout.decode().strip() == str(
        redis_pod["securityContext"]["runAsUser"]
    )
    assert engine.exec(played["redis"], ["sh", "-c", ": > /written-by-the-test"]).returncode != 0


def test_nothing_is_written_outside_the_volumes(played):
    """A cluster gives the pod a writable /dev/shm and its volumes; podman from 4.4 also mounts writable tmpfs on
    /run and /var/tmp under a read-only root. Nothing of the app's may be there after it served (the tests above
    ran first), so the pod needs no more than the manifest gives it."""
    engine, app = played["engine"], played["app"]
    volumes = [m["mountPath"] for m in played["container"]["volumeMounts"]]
    prune = " ".join(f"-path {path} -prune -o" for path in volumes)
    script = f"find /run /var/tmp /dev/shm {prune} -user $(id -u) -print"
    done = engine.exec(app, ["sh", "-c", script])
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().split() == []
    planted = engine.exec(app, ["sh", "-c", f": > /dev/shm/planted-by-the-test && {script}"])
    assert planted.stdout.decode().split() == ["/dev/shm/planted-by-the-test"]  # the search finds what is there
    engine.exec(app, ["rm", "-f", "/dev/shm/planted-by-the-test"])


def test_it_stops_cleanly_and_kube_down_removes_it(played):
    """Stopped as the kubelet stops a pod (SIGTERM, then terminationGracePeriodSeconds), gunicorn drains and exits 0.

    `podman kube down` itself stops pods with no grace period before podman 5.1 (SIGKILL at once), so the pods
    are stopped first; then kube down removes them.
    """
    engine, app = played["engine"], played["app"]
    grace = the("Deployment", "bgremover", played["rendered"])["spec"]["template"]["spec"]
    pod = engine.inspect(app)["Pod"]
    engine("pod", "stop", f"--time={grace['terminationGracePeriodSeconds']}", pod, timeout=DOWN_TIMEOUT_S)
    state = engine.inspect(app)["State"]
    logs = engine.logs(app)
    assert (state["Running"], state["ExitCode"]) == (False, 0), logs
    assert "Handling signal: term" in logs and "Shutting down: Master" in logs and "Traceback" not in logs, logs
    down = engine("kube", "down", str(played["yaml"]), check=False, timeout=DOWN_TIMEOUT_S)
    assert down.returncode == 0, down.stderr.decode()[-2000:]
    assert not names(engine, "pod") & played["pods"]
