"""A real container engine (podman, else docker) driven from tests: the image built, inspected, run and stopped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import pytest

from tests.services import ROOT

BUILD_TIMEOUT_S = 1800


def _missing(reason: str) -> None:
    """Skip for want of an engine; under CI=true a failure (.ci/run installs podman)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


@dataclass
class Engine:
    """One container engine's command line; every container it starts is removed by `cleanup`."""

    binary: str
    started: list[str] = field(default_factory=list)

    @classmethod
    def find(cls) -> Engine:
        """CONTAINER_ENGINE, else podman, else docker, provided it can run containers here."""
        names = [os.environ["CONTAINER_ENGINE"]] if os.environ.get("CONTAINER_ENGINE") else ["podman", "docker"]
        for name in names:
            binary = shutil.which(name)
            if binary and subprocess.run([binary, "info"], capture_output=True, timeout=60).returncode == 0:
                return cls(binary)
        _missing(f"no working container engine ({' or '.join(names)}; see docs/container.md)")
        raise AssertionError("unreachable")

    def __call__(self, *args: str, timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
        done = subprocess.run([self.binary, *args], capture_output=True, timeout=timeout, check=False, **kw)
        if check and done.returncode != 0:
            raise AssertionError(f"{self.binary} {' '.join(args[:3])}… failed: {done.stderr.decode()[-2000:]}")
        return done

    def build(self, tag: str) -> None:
        """`make image` with this engine: the build the docs describe (BASE_IMAGE comes from the environment)."""
        done = subprocess.run(
            ["make", "-C", str(ROOT), "image", f"IMAGE={tag}", f"ENGINE={self.binary}"],
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"make image failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    def inspect(self, what: str) -> dict:
        return json.loads(self("inspect", what).stdout)[0]

    def run(self, image: str, *options: str, env: dict[str, str] | None = None) -> str:
        """Start a detached container; its name."""
        name = f"bgremover-test-{uuid.uuid4().hex[:8]}"
        flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
        self("run", "--detach", f"--name={name}", *flags, *options, image)
        self.started.append(name)
        return name

    def exec(self, name: str, command: list[str], **kw) -> subprocess.CompletedProcess:
        """A command in a running container, as its image's user, without raising on failure."""
        return self("exec", "-i", name, *command, check=False, **kw)

    def wait_ready(self, name: str, timeout: float) -> float:
        """Seconds until /health/ready answers 200 inside the container (asked from inside: it may have no network)."""
        start = time.monotonic()
        probe = "import os,urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/ready' % os.environ['PORT'])"
        while time.monotonic() - start < timeout:
            if self.exec(name, ["python", "-c", probe], timeout=30).returncode == 0:
                return time.monotonic() - start
            state = self.inspect(name)["State"]
            if not state["Running"]:
                raise AssertionError(f"the container exited ({state['ExitCode']}):\n{self.logs(name)}")
            time.sleep(0.5)
        raise AssertionError(f"not ready within {timeout}s:\n{self.logs(name)}")

    def logs(self, name: str) -> str:
        done = self("logs", name, check=False)
        return (done.stdout + done.stderr).decode(errors="replace")[-3000:]

    def cleanup(self) -> None:
        for name in self.started:
            self("rm", "--force", name, check=False)
        self.started.clear()
