"""Render the nginx site for this deployment: `python nginx/render.py --upstream host:port ... > site.conf`."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

TEMPLATE = Path(__file__).with_name("bgremover.conf.template")
ROOT = Path(__file__).resolve().parents[1]


def render(upstreams: list[str], *, server_name: str = "_", http_port: int = 80, https_port: int = 443,
           tls_cert: str = "/etc/ssl/certs/bgremover.pem", tls_key: str = "/etc/ssl/private/bgremover.key",
           static_root: str = str(ROOT / "static"), max_body: str = "16m",
           access_log: str = "/var/log/nginx/bgremover.access.log") -> str:
    """The site configuration text with every @NAME@ filled in."""
    values = {
        "UPSTREAM_SERVERS": "\n".join(f"    server {u} max_fails=2 fail_timeout=10s;" for u in upstreams),
        "SERVER_NAME": server_name, "HTTP_PORT": str(http_port), "HTTPS_PORT": str(https_port),
        "HTTPS_PORT_SUFFIX": "" if https_port == 443 else f":{https_port}",
        "TLS_CERT": tls_cert, "TLS_KEY": tls_key, "STATIC_ROOT": static_root.rstrip("/"),
        "MAX_BODY": max_body, "ACCESS_LOG": access_log,
    }
    text = TEMPLATE.read_text()
    missing = set(re.findall(r"@([A-Z_]+)@", text)) - set(values)
    if missing:
        raise KeyError(f"template needs values for {sorted(missing)}")
    return re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], text)


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
    args = parser.parse_args()
    print(render(args.upstream, server_name=args.server_name, http_port=args.http_port, https_port=args.https_port,
                 tls_cert=args.tls_cert, tls_key=args.tls_key, static_root=args.static_root,
                 max_body=args.max_body, access_log=args.access_log), end="")


if __name__ == "__main__":
    main()
