"""The Dockerfile's build, without Docker: its instructions parsed and each command run against a scratch root.

What this proves and what it does not:
- COPY copies the listed files into WORKDIR (root-owned, as Docker does); `pip install --no-deps .` really builds
  and installs the package from those files alone (into a target directory, no build isolation).
- `pip install -r requirements.txt` runs as `--dry-run --no-index` against the virtualenv running the tests: it
  proves the pins are what the tests run on, not that PyPI serves them today.
- `bgremover models fetch` runs for real, but on a model file put in place beforehand (mode 0600, as a strict umask
  would leave it), so it only verifies it; the download is tested in tests/models/test_provision.py.
- `chmod`, `useradd` (uid and home) and USER are applied to the scratch root; the CMD and the HEALTHCHECK then run
  as that uid, with the image's ENV, through the same Python minor version as the base image.
- Not verified: the base image itself, Docker's layer and cache semantics, the network installs.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services import ROOT


@dataclass
class Instruction:
    """One Dockerfile instruction: its keyword and the rest of its (joined) lines."""

    keyword: str
    args: str


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined, comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = pending + line
        pending = ""
        keyword, _, args = whole.partition(" ")
        found.append(Instruction(keyword.upper(), args.strip()))
    return found


@dataclass
class Image:
    """What the emulated build left behind, and how the image runs."""

    root: Path  # stands for the image's /
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path = Path("/")
    site: Path = Path()  # where `pip install --no-deps .` put the package
    python: str = ""  # the base image's Python version (X.Y)
    uid: int | None = None
    home: Path | None = None
    user: str = "root"
    users: dict[str, tuple[int, Path]] = field(default_factory=dict)
    exposed: list[int] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: str = ""

    def path(self, absolute: str) -> Path:
        """An image path inside the scratch root."""
        return self.root / absolute.lstrip("/")


def _run(cmd: list[str], **kw) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kw)
    assert done.returncode == 0, f"{shlex.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def _useradd(image: Image, args: list[str]) -> None:
    uid = int(args[args.index("--uid") + 1]) if "--uid" in args else 999
    name = args[-1]
    home = Path("/home") / name
    if "--create-home" in args or "-m" in args:
        image.path(str(home)).mkdir(parents=True)
        if os.geteuid() == 0:
            os.chown(image.path(str(home)), uid, uid)
    image.users[name] = (uid, home)


def _build_env(image: Image) -> dict[str, str]:
    """The environment of a RUN step: the image's ENV with its paths moved into the scratch root."""
    env = {**os.environ, **image.env, "PYTHONPATH": str(image.site)}
    for key, value in image.env.items():
        if value.startswith("/"):
            env[key] = str(image.path(value))
    return env


def _run_command(image: Image, words: list[str]) -> None:
    """Run one command of a RUN instruction against the scratch root, or fail naming it."""
    cwd = image.workdir
    if words[0] == "useradd":
        _useradd(image, words[1:])
    elif words[:3] == ["pip", "install", "-r"]:
        _run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "-q", "-r", words[3]], cwd=cwd)
    elif words[:2] == ["pip", "install"] and words[-1] == "." and set(words[2:-1]) <= {"--no-deps"}:
        target = ["--no-build-isolation", "--no-index", "-q", "--target", str(image.site)]
        _run([sys.executable, "-m", "pip", "install", *words[2:-1], *target, "."], cwd=cwd)
    elif words[0] == "bgremover":
        model_dir = image.path(image.env["U2NET_HOME"])
        model_dir.mkdir(parents=True, exist_ok=True)
        for name in words[3:] if words[1:3] == ["models", "fetch"] else []:
            placed = model_dir / f"{name}.onnx"
            shutil.copyfile(Path("~/.u2net").expanduser() / f"{name}.onnx", placed)
            placed.chmod(0o600)
        _run([str(image.site / "bin" / "bgremover"), *words[1:]], cwd=cwd, env=_build_env(image))
    elif words[0] == "chmod":
        _run(["chmod", *(str(image.path(w)) if w.startswith("/") else w for w in words[1:])], cwd=cwd)
    else:
        pytest.fail(f"tests/deploy/dockerfile.py does not know how to run `{shlex.join(words)}`: teach it")


def build(root: Path, dockerfile: Path = ROOT / "Dockerfile") -> Image:
    """Apply every instruction of the Dockerfile to `root`, running its commands as described above."""
    image = Image(root=root, site=root / "build-site")
    for step in instructions(dockerfile.read_text()):
        if step.keyword == "FROM":
            image.python = step.args.split()[0].split(":")[1].split("-")[0]
        elif step.keyword == "ENV":
            image.env.update(dict(pair.split("=", 1) for pair in shlex.split(step.args)))
        elif step.keyword == "WORKDIR":
            image.workdir = image.path(step.args)
            image.workdir.mkdir(parents=True, exist_ok=True)
        elif step.keyword == "COPY":
            *sources, dest = shlex.split(step.args)
            target = image.workdir / dest
            for source in sources:
                origin = ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
        elif step.keyword == "RUN":
            for command in step.args.split("&&"):
                _run_command(image, shlex.split(command))
        elif step.keyword == "USER":
            image.user = step.args
            image.uid, image.home = image.users[step.args]
        elif step.keyword == "EXPOSE":
            image.exposed = [int(p.split("/")[0]) for p in step.args.split()]
        elif step.keyword == "HEALTHCHECK":
            image.healthcheck = step.args.split(" CMD ", 1)[1]
        elif step.keyword == "CMD":
            image.cmd = json.loads(step.args)
        else:
            pytest.fail(f"tests/deploy/dockerfile.py does not know the instruction {step.keyword}")
    return image


def _link(source: str | Path, target: str | Path) -> None:
    """A hard link, or a copy across file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _open_to_others(path: Path) -> bool:
    """Whether any user may traverse every directory down to `path`."""
    return all(parent.stat().st_mode & 0o001 for parent in [path, *path.parents])


def runtime(image: Image) -> dict[str, str]:
    """An environment that runs the image's commands: a `python` and `gunicorn` on PATH, packages on PYTHONPATH.

    The base image has Python in /usr/local; here that is the interpreter of the test's virtualenv and the
    virtualenv's site-packages (whose pins `pip install -r` checked) on PYTHONPATH, each hard-linked into the
    scratch root when its own directory is closed to other users (pyenv or a clone under /root).
    """
    local = image.path("/usr/local")
    bin_dir = local / "bin"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    base = Path(sys.base_prefix)
    executable = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    lib = local / "lib"
    if not bin_dir.exists():
        bin_dir.mkdir(parents=True)
        stdlib = base / "lib" / f"python{version}"
        if not _open_to_others(executable.parent) and (stdlib / "os.py").exists():
            skip = shutil.ignore_patterns("site-packages", "test")
            shutil.copytree(stdlib, lib / stdlib.name, copy_function=_link, ignore=skip, symlinks=True)
            for shared in base.joinpath("lib").glob("libpython*.so*"):
                _link(shared, lib / shared.name)
            _link(executable, bin_dir / executable.name)
            (bin_dir / "python").symlink_to(executable.name)
        else:
            (bin_dir / "python").symlink_to(executable)
        gunicorn = bin_dir / "gunicorn"
        gunicorn.write_text('#!/bin/sh\nexec python -m gunicorn "$@"\n')
        gunicorn.chmod(0o755)
    packages = Path(sysconfig.get_paths()["purelib"])
    if not _open_to_others(packages):  # e.g. a clone under /root: link the packages where the user can read them
        linked = local / "lib" / "test-packages"
        if not linked.exists():
            shutil.copytree(packages, linked, copy_function=_link, symlinks=True)
        packages = linked
    env = {key: str(image.path(value)) if value.startswith("/") else value for key, value in image.env.items()}
    return {
        **env,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(image.path(str(image.home or "/root"))),
        "LD_LIBRARY_PATH": str(lib),
        "PYTHONPATH": os.pathsep.join([str(image.site), str(packages)]),
    }


def as_user(image: Image, command: list[str]) -> list[str]:
    """The command run with the image's USER (uid and gid), as Docker would; needs root."""
    if image.uid is None:
        return command
    uid = str(image.uid)
    return ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", *command]
