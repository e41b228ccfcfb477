"""Render the nginx site for this deployment: `python nginx/render.py --upstream host:port ... > site.conf`."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path

TEMPLATE = Path(__file__).with_name("bgremover.conf.template")
ROOT = Path(__file__).resolve().parents[1]
# `http2 on;` exists from nginx 1.25.1, which deprecates `listen … http2`; older nginx (Debian 12 has 1.22)
# knows only the `listen` parameter. The site is rendered for the nginx that will run it.
HTTP2_DIRECTIVE_SINCE = (1, 25, 1)


@dataclass(frozen=True)
class Flood:
    """nginx's per-client limits, the first line of defence before a request reaches a sync worker."""

    rate: str = "20r/s"  # every proxied request
    burst: int = 40
    post_rate: str = "5r/s"  # POSTs: the processing endpoints
    post_burst: int = 10
    connections: int = 20  # requests of one client in progress at once


def nginx_version(binary: str | None = None) -> tuple[int, int, int] | None:
    """The version of the nginx on this machine (`nginx -v`), or None when there is none."""
    binary = binary or shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not binary:
        return None
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", done.stderr + done.stdout)
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def https_listen(port: int, version: tuple[int, int, int]) -> str:
    """The server block's listen lines with TLS and HTTP/2, in the form this nginx version takes."""
    if version >= HTTP2_DIRECTIVE_SINCE:
        return f"    listen {port} ssl;\n    http2 on;"
    return f"    listen {port} ssl http2;  # nginx < 1.25.1: no `http2 on;` yet"


def render(
    upstreams: list[str],
    *,
    server_name: str = "_",
    http_port: int = 80,
    https_port: int = 443,
    tls_cert: str = "/etc/ssl/certs/bgremover.pem",
    tls_key: str = "/etc/ssl/private/bgremover.key",
    static_root: str = str(ROOT / "static"),
    max_body: str = "16m",
    access_log: str = "/var/log/nginx/bgremover.access.log",
    version: tuple[int, int, int] = HTTP2_DIRECTIVE_SINCE,
    flood: Flood = Flood(),  # frozen, so one shared default is safe
) -> str:
    """The site configuration text for nginx `version` with every @NAME@ filled in."""
    values = {
        "UPSTREAM_SERVERS": "\n".join(f"    server {u} max_fails=2 fail_timeout=10s;" for u in upstreams),
        "SERVER_NAME": server_name,
        "HTTP_PORT": str(http_port),
        "HTTPS_LISTEN": https_listen(https_port, version),
        "HTTPS_PORT_SUFFIX": "" if https_port == 443 else f":{https_port}",
        "TLS_CERT": tls_cert,
        "TLS_KEY": tls_key,
        "STATIC_ROOT": static_root.rstrip("/"),
        "MAX_BODY": max_body,
        "ACCESS_LOG": access_log,
        "REQ_RATE": flood.rate,
        "REQ_BURST": str(flood.burst),
        "POST_RATE": flood.post_rate,
        "POST_BURST": str(flood.post_burst),
        "CONN_LIMIT": str(flood.connections),
    }
    text = TEMPLATE.read_text()
    missing = set(re.findall(r"@([A-Z_]+)@", text)) - set(values)
    if missing:
        raise KeyError(f"template needs values for {sorted(missing)}")
    return re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], text)


def _version(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(".")]
    return (*parts, 0, 0)[:3]  # type: ignore[return-value]


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", action="append", required=True, help="an app node, host:port (repeat)")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--http-port", type=int, default=80)
    parser.add_argument("--https-port", type=int, default=443)
    parser.add_argument("--tls-cert", default="/etc/ssl/certs/bgremover.pem")
    parser.add_argument("--tls-key", default="/etc/ssl/private/bgremover.key")
    parser.add_argument("--static-root", default=str(ROOT / "static"))
    parser.add_argument("--max-body", default="16m", help="nginx size; match MAX_CONTENT_LENGTH")
    parser.add_argument("--access-log", default="/var/log/nginx/bgremover.access.log")
    parser.add_argument(
        "--nginx-version",
        type=_version,
        help="the nginx that will run the site (default: `nginx -v` here, else 1.25.1)",
    )
    for field in fields(Flood):
        parser.add_argument(
            f"--flood-{field.name.replace('_', '-')}",
            type=type(field.default),
            default=field.default,
            help=f"per-client {field.name} (default {field.default})",
        )
    args = parser.parse_args()
    version = args.nginx_version or nginx_version() or HTTP2_DIRECTIVE_SINCE
    flood = Flood(**{field.name: getattr(args, f"flood_{field.name}") for field in fields(Flood)})
    text = render(
        args.upstream,
        server_name=args.server_name,
        http_port=args.http_port,
        https_port=args.https_port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        static_root=args.static_root,
        max_body=args.max_body,
        access_log=args.access_log,
        version=version,
        flood=flood,
    )
    print(text, end="")


if __name__ == "__main__":
    main()
