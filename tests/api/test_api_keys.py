"""API keys: off by default, 401/403 JSON when on, per-key limits (also across two gunicorn nodes and a real Redis),
revocation through the CLI, and no key in any log line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests
from click.testing import CliRunner

from bgremover.apikeys import KeyFileError, add_key, hash_key, read_file
from bgremover.cli import main
from tests.api.test_errors import assert_error
from tests.services import AppServer, RedisServer

CHEAP = {"image": "aGVsbG8="}  # valid base64, not an image: a 415 proves the request got past authentication


def cheap(client, **headers):
    return client.post("/remove-background-base64", json=CHEAP, headers=headers)


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys.json"
    alice, _ = add_key(path, "alice", limit=3)
    bob, _ = add_key(path, "bob", limit=None)
    return path, alice, bob


def test_keys_off_by_default_and_a_sent_key_is_ignored(client):
    assert cheap(client).status_code == 415
    assert cheap(client, **{"X-Api-Key": "whatever"}).status_code == 415


def test_missing_wrong_and_good_keys(make_app, key_file):
    path, alice, _ = key_file
    client = make_app(api_keys_file=path).test_client()
    body = assert_error(cheap(client), 401, "api_key_missing")
    assert "X-Api-Key" in body["solution"]
    assert_error(cheap(client, **{"X-Api-Key": alice[:-1] + "x"}), 403, "api_key_invalid")
    assert_error(cheap(client, Authorization="Bearer nope"), 403, "api_key_invalid")
    assert cheap(client, **{"X-Api-Key": alice}).status_code == 415
    assert cheap(client, Authorization=f"Bearer {alice}").status_code == 415
    r = client.post("/remove-background-batch", data={}, headers={"X-Api-Key": "nope"})
    assert_error(r, 403, "api_key_invalid")
    for path_ in ("/", "/health", "/api/presets", "/openapi.json"):
        assert client.get(path_).status_code == 200  # the page and the ops routes need no key


def test_the_file_holds_hashes_only(key_file):
    path, alice, bob = key_file
    text = path.read_text()
    assert alice not in text and bob not in text and hash_key(alice) in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [(k.name, k.limit_per_hour) for k in read_file(path)] == [("alice", 3), ("bob", None)]


def test_per_key_limits_replace_the_per_ip_ones(make_app, key_file):
    path, alice, bob = key_file
    client = make_app(api_keys_file=path, rate_limit_base64_per_hour=5).test_client()
    codes = [cheap(client, **{"X-Api-Key": alice}).status_code for _ in range(4)]
    assert codes == [415, 415, 415, 429]  # alice's own limit: 3/hour
    r = cheap(client, **{"X-Api-Key": bob})  # same IP, another key: its own counter, the endpoint's default limit
    assert r.status_code == 415 and r.headers["X-RateLimit-Limit"] == "5" and r.headers["X-RateLimit-Remaining"] == "4"


def test_page_public_serves_keyless_requests_per_ip_but_still_refuses_bad_keys(make_app, key_file):
    path, alice, _ = key_file
    client = make_app(api_keys_file=path, page_public=True, rate_limit_base64_per_hour=2).test_client()
    assert [cheap(client).status_code for _ in range(3)] == [415, 415, 429]  # per IP
    assert cheap(client, **{"X-Api-Key": alice}).status_code == 415  # a key has its own counter
    assert_error(cheap(client, **{"X-Api-Key": "wrong"}), 403, "api_key_invalid")
    assert 'id="api-key"' not in client.get("/").get_data(as_text=True)


def test_the_page_asks_for_a_key_when_keys_are_required(make_app, key_file):
    path, _, _ = key_file
    assert 'id="api-key"' in make_app(api_keys_file=path).test_client().get("/").get_data(as_text=True)


def test_api_keys_from_the_environment(make_app):
    key = "k" * 43
    client = make_app(api_keys=[f"ci:{hash_key(key)}:1"]).test_client()
    assert [cheap(client, **{"X-Api-Key": key}).status_code for _ in range(2)] == [415, 429]
    with pytest.raises(KeyFileError, match="API_KEYS: key 'ci' needs a sha256"):
        make_app(api_keys=[f"ci:{key}"])  # a plaintext key instead of its hash


def test_a_malformed_key_file_stops_the_start(make_app, tmp_path):
    bad = tmp_path / "keys.json"
    bad.write_text('{"keys": [{"name": "x", "sha256": "plaintext-key"}]}')
    with pytest.raises(KeyFileError, match=r"API_KEYS_FILE .*entry 0: key 'x' needs a sha256"):
        make_app(api_keys_file=bad)


def cli(*args: str, env: dict[str, str]):
    """`bgremover keys ...` in this process (click's runner), with these environment variables."""
    return CliRunner().invoke(main, ["keys", *args], env=env)


@pytest.mark.parametrize("command", [["add", "dave"], ["revoke", "dave"], ["list"]])
def test_cli_names_a_malformed_api_keys_entry(tmp_path, command):
    done = cli(*command, env={"API_KEYS": "dave-without-a-hash", "API_KEYS_FILE": str(tmp_path / "keys.json")})
    assert done.exit_code == 1 and "API_KEYS: each entry is name:sha256hex" in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)  # an error message, not a traceback


def test_cli_add_list_revoke_and_a_running_app_sees_the_revocation(make_app, tmp_path):
    env = {"API_KEYS_FILE": str(tmp_path / "keys.json")}
    added = cli("add", "carol", "--limit", "7", env=env)
    assert added.exit_code == 0, added.output
    key = added.stdout.strip()
    assert len(key) >= 43 and key not in (tmp_path / "keys.json").read_text()
    assert cli("add", "carol", env=env).exit_code != 0  # an active name is not replaced
    client = make_app(api_keys_file=tmp_path / "keys.json").test_client()
    assert cheap(client, **{"X-Api-Key": key}).headers["X-RateLimit-Limit"] == "7"

    listed = cli("list", env=env)
    assert "carol" in listed.stdout and "active" in listed.stdout and "7/hour" in listed.stdout
    assert key not in listed.stdout and hash_key(key) not in listed.stdout
    assert cli("revoke", "carol", env=env).exit_code == 0
    assert "revoked" in cli("list", env=env).stdout
    assert_error(cheap(client, **{"X-Api-Key": key}), 403, "api_key_revoked")  # the running app re-read the file
    assert cli("revoke", "nobody", env=env).exit_code != 0

    env_only = cli("add", "dave", env={"API_KEYS_FILE": ""})
    printed = env_only.stdout.strip()
    assert env_only.exit_code == 0 and f"dave:{hash_key(printed)}" in env_only.stderr


# ---- two gunicorn nodes, one real Redis ------------------------------------------------------------------------


@pytest.mark.slow
def test_per_key_limits_are_shared_by_two_nodes_and_no_key_is_logged(tmp_path):
    redis_server = RedisServer(tmp_path).start()
    path = tmp_path / "keys.json"
    alice, _ = add_key(path, "alice", limit=3)
    bob, _ = add_key(path, "bob", limit=None)
    nodes = []
    try:
        for i in range(2):
            env = {
                "REDIS_URL": redis_server.url,
                "API_KEYS_FILE": str(path),
                "LOG_FILE": str(tmp_path / f"node{i}.log"),
                "RATE_LIMIT_BASE64_PER_HOUR": "10",
            }
            nodes.append(AppServer(env, tmp_path).start())
        a, b = nodes

        def send(node, key, how="x-api-key"):
            headers = {"X-Api-Key": key} if how == "x-api-key" else {"Authorization": f"Bearer {key}"}
            return requests.post(f"{node.url}/remove-background-base64", json=CHEAP, headers=headers, timeout=10)

        codes = [send(a, alice).status_code, send(b, alice, "bearer").status_code, send(a, alice).status_code]
        assert codes == [415, 415, 415]
        for node in (a, b):  # alice's 3/hour is spent on both nodes together
            r = send(node, alice)
            assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert send(b, bob).status_code == 415  # bob is counted apart
        assert requests.post(f"{a.url}/remove-background-base64", json=CHEAP, timeout=10).status_code == 401
        assert any(b"key:alice" in k for k in redis_server.keys("*"))

        subprocess.run(
            [sys.executable, "-m", "bgremover.cli", "keys", "revoke", "bob"],
            env={**os.environ, "API_KEYS_FILE": str(path)},
            check=True,
            capture_output=True,
            timeout=60,
        )
        assert send(a, bob).json()["code"] == "api_key_revoked" and send(b, bob).status_code == 403
    finally:
        for node in nodes:
            node.stop()
        redis_server.stop()

    logs = "".join((tmp_path / f"node{i}.log").read_text() for i in range(2))
    logs += "".join(p.read_text(errors="replace") for p in tmp_path.glob("gunicorn-*.log"))
    assert alice not in logs and bob not in logs and hash_key(alice) not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{") and '"route"' in line]
    named = [line for line in lines if line.get("route") == "/remove-background-base64"]
    assert {line.get("api_key") for line in named} == {"alice", "bob", None}


def test_openapi_describes_the_key_scheme_when_keys_are_on(make_app, key_file, client):
    from openapi_spec_validator import validate

    path, _, _ = key_file
    doc = make_app(api_keys_file=path).test_client().get("/openapi.json").get_json()
    validate(doc)
    scheme = doc["components"]["securitySchemes"]["ApiKeyHeader"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-Api-Key"}
    for route in ("/remove-background", "/remove-background-base64", "/remove-background-batch", "/read-file"):
        operation = doc["paths"][route]["post"]
        assert {"ApiKeyHeader": []} in operation["security"] and {"401", "403"} <= set(operation["responses"])
    assert "security" not in doc["paths"]["/health"]["get"]
    off = client.get("/openapi.json").get_json()
    assert all("security" not in op for item in off["paths"].values() for op in item.values())
