"""docker-compose.yml as a compose implementation reads it (podman-compose `config`), checked against the code.

Its services, ports, environment and volumes must agree with the settings (bgremover/settings.py), the image
(Dockerfile) and the nginx site it mounts (nginx/compose.conf, the rendered template).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bgremover.settings import Settings, load_settings
from tests.services import ROOT, require_binary

NGINX_CONF = ROOT / "nginx" / "compose.conf"


@pytest.fixture(scope="module")
def compose() -> dict:
    """The compose file normalised by podman-compose (it parses, merges and interpolates as `up` would)."""
    require_binary("podman")  # podman-compose asks `podman version` before anything else
    done = subprocess.run(
        [sys.executable, "-m", "podman_compose", "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def image_env() -> dict[str, str]:
    """The ENV the Dockerfile's final stage sets."""
    final = (ROOT / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    env_line = re.search(r"^ENV ((?:.*\\\n)*.*)$", final, re.M)
    assert env_line, "the image stage sets no ENV"
    return dict(pair.split("=", 1) for pair in env_line[1].replace("\\\n", " ").split())


def mounts(service: dict) -> dict[str, str]:
    """Container path -> host path of a service's bind mounts (short syntax)."""
    found = {}
    for volume in service.get("volumes", []):
        host, container, *_ = volume.split(":")
        found[container] = host
    return found


def test_the_services_are_the_app_redis_and_nginx(compose):
    services = compose["services"]
    assert set(services) == {"app", "redis", "nginx"}
    assert Path(services["app"]["build"]["context"]).resolve() == ROOT
    assert set(services["app"]["depends_on"]) == {"redis"} and set(services["nginx"]["depends_on"]) == {"app"}
    assert "ports" not in services["app"] and "ports" not in services["redis"]  # only nginx is published


def test_the_app_image_is_the_one_make_image_tags(compose):
    default = re.search(r"^IMAGE\s*\?=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert default and compose["services"]["app"]["image"] == default[1]


def test_the_app_environment_is_valid_settings(compose):
    env = compose["services"]["app"]["environment"]
    fields = {name.upper() for name in Settings.model_fields}
    assert set(env) <= fields, f"not settings: {set(env) - fields}"
    settings = load_settings(_env_file=None, **{key.lower(): value for key, value in env.items()})
    assert settings.trusted_proxy_hops == 1  # behind the one nginx: believe its X-Forwarded-For, no further
    redis = re.fullmatch(r"redis://([a-z]+):(\d+)/\d+", settings.limiter_storage_uri)
    assert redis and redis[1] in compose["services"], "REDIS_URL names no compose service"
    assert redis[2] == "6379" and "--port" not in compose["services"]["redis"]["command"]  # redis' own port
    assert "--save" in compose["services"]["redis"]["command"]  # rate-limit counters need no persistence


def test_nginx_reaches_the_app_on_the_image_port(compose):
    upstreams = re.findall(r"^\s*server (\S+):(\d+) ", NGINX_CONF.read_text(), re.M)
    env = image_env()
    assert upstreams == [("app", env["PORT"])]
    assert env["HOST"] == "0.0.0.0"  # listens on the container's interface, which nginx reaches by name


def test_nginx_publishes_the_ports_it_listens_on(compose):
    listens = {int(port) for port in re.findall(r"^\s*listen (\d+)", NGINX_CONF.read_text(), re.M)}
    published = {tuple(int(p) for p in port.split(":")) for port in compose["services"]["nginx"]["ports"]}
    assert listens == {80, 443} and published == {(port, port) for port in listens}


def test_nginx_volumes_hold_what_its_site_reads(compose):
    volumes = mounts(compose["services"]["nginx"])
    text = NGINX_CONF.read_text()
    conf_dir = next(c for c, h in volumes.items() if Path(h).resolve() == NGINX_CONF)
    assert conf_dir == "/etc/nginx/conf.d/default.conf"  # the official nginx image includes conf.d/*.conf
    static = re.search(r"alias (\S+);", text)
    assert static and volumes[static[1].rstrip("/")] == "./static" and (ROOT / "static" / "app.js").is_file()
    for directive in ("ssl_certificate", "ssl_certificate_key"):
        path = re.search(rf"^\s*{directive} (\S+);", text, re.M)
        assert path and str(Path(path[1]).parent) in volumes, f"{directive} {path} is not in a mounted volume"
    assert all(volume.endswith(":ro") for volume in compose["services"]["nginx"]["volumes"])
