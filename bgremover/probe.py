"""`python -m bgremover.probe PATH`: GET PATH from the server on this host's PORT; exit 0 on 200, else 1.

The exec probes of deploy/kubernetes/deployment.yaml run it inside the container: it needs no curl in the
image, and an engine that plays the manifest (`podman kube play`) runs it as the pod's healthcheck. Standard
library only, so it starts in a few tens of milliseconds; the caller's own timeout (the probe's
timeoutSeconds) is shorter than its own and governs.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 10.0


def port() -> int:
    """PORT from the environment, else the setting's default (the image and the ConfigMap both set it)."""
    if "PORT" in os.environ:
        return int(os.environ["PORT"])
    from bgremover.settings import Settings

    return int(Settings.model_fields["port"].default)


def probe(path: str) -> tuple[bool, str]:
    """Whether GET path answers 200, and a line saying what came back."""
    try:
        url = f"http://127.0.0.1:{port()}{path}"
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:
            return answer.status == 200, f"GET {path}: {answer.status}"
    except urllib.error.HTTPError as exc:
        return False, f"GET {path}: {exc.code}"
    except (OSError, ValueError) as exc:
        return False, f"GET {path}: {exc}"


def main(argv: list[str] | None = None) -> int:
    """Probe the one path given; the verdict as the exit status, a line on stderr when it fails."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].startswith("/"):
        print("usage: python -m bgremover.probe /PATH", file=sys.stderr)
        return 2
    ok, line = probe(args[0])
    if not ok:
        print(line, file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
