"""Render the nginx site for this deployment: `python nginx/render.py --upstream host:port ... > site.conf`."""

from __future__ import annotations

import argparse
import json
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


@dataclass(frozen=True)
class NginxError:
    """An error nginx answers itself (the app never saw the request, or did not answer), as the spec's JSON."""

    status: int  # what nginx raises: error_page's code (494 is its "request header too large")
    sent: int  # the status the client gets in the native shape
    code: str
    error: str
    solution: str
    details: str


# Every error nginx can answer for this site. The app's own errors pass through untouched
# (proxy_intercept_errors is off), so these are only nginx's.
NGINX_ERRORS = (
    NginxError(
        400,
        400,
        "bad_request",
        "Bad request",
        "Check the request against the API documentation at /openapi.json",
        "The HTTP request could not be parsed",
    ),
    NginxError(
        494,
        400,
        "headers_too_large",
        "Request headers too large",
        "Send fewer or shorter headers and cookies",
        "A header line or the headers together are over the server limit",
    ),
    NginxError(
        497,
        400,
        "https_required",
        "Plain HTTP sent to the HTTPS port",
        "Use https:// for this port",
        "The request was not encrypted",
    ),
    NginxError(
        403,
        403,
        "forbidden",
        "Forbidden",
        "Check the URL; the API is described at /openapi.json",
        "The server refuses to serve this path",
    ),
    NginxError(
        404, 404, "not_found", "Not found", "Check the URL; the API is described at /openapi.json", "No such file"
    ),
    NginxError(
        405,
        405,
        "method_not_allowed",
        "Method not allowed",
        "Use GET for static files",
        "This path does not take that method",
    ),
    NginxError(
        413,
        413,
        "payload_too_large",
        "File too large",
        "Send a file of at most @MAX_BODY_TEXT@",
        "The request body is larger than the server accepts",
    ),
    NginxError(
        414,
        414,
        "uri_too_long",
        "URI too long",
        "Send options in the request body, not the query string",
        "The request line is over the server limit",
    ),
    NginxError(
        429,
        429,
        "rate_limited",
        "Rate limit exceeded",
        "Slow down: wait a second and retry",
        "Too many requests from your address at once",
    ),
    NginxError(
        500,
        500,
        "internal_error",
        "Internal error",
        "Try again later; if it persists, report the request id",
        "The proxy failed",
    ),
    NginxError(502, 502, "bad_gateway", "Service unavailable", "Retry in a few seconds", "No app node answered"),
    NginxError(
        503,
        503,
        "unavailable",
        "Service unavailable",
        "Retry in a few seconds",
        "The proxy cannot take the request now",
    ),
    NginxError(
        504,
        504,
        "gateway_timeout",
        "The request took too long",
        "Retry with a smaller image or refine=standard",
        "The app node did not answer in time",
    ),
)
# remove.bg's statuses for ours, as its compatible API answers them (bgremover/web/removebg.py, STATUSES).
REMOVEBG_STATUSES = {401: 403, 413: 400, 415: 400, 422: 400}
ERROR_URI = "/_nginx_error/"  # internal locations, one per status; a client asking for one gets a 404
REQUEST_ID = "$request_id"  # nginx's id, also sent to the app as X-Request-ID


def native_shape(status: int, body: dict[str, str]) -> tuple[int, object]:
    """The spec's error JSON as it is."""
    return status, body


def removebg_shape(status: int, body: dict[str, str]) -> tuple[int, object]:
    """remove.bg's error JSON: {"errors": [{"title", "code", "detail"}]} with its statuses."""
    detail = ". ".join(part.rstrip(".") for part in (body.get("details"), body.get("solution")) if part)
    return REMOVEBG_STATUSES.get(status, status), {
        "errors": [{"title": body["error"], "code": body["code"], "detail": detail}]
    }


def rembg_shape(status: int, body: dict[str, str]) -> tuple[int, object]:
    """rembg's (FastAPI's) error JSON: {"detail"}, with our code and request id beside it."""
    detail = body["error"] + (f" ({body['details']})" if body.get("details") else "")
    return status, {"detail": detail, "code": body["code"], "request_id": body["request_id"]}


# $bgremover_api (the template's map of URI prefixes) → shape; native last, as the fallback.
SHAPES = {"removebg": removebg_shape, "rembg": rembg_shape, "native": native_shape}


def human_size(size: str) -> str:
    """An nginx size ("16m") as a person reads it ("16 MiB")."""
    units = {"k": "KiB", "m": "MiB", "g": "GiB"}
    return f"{size[:-1]} {units[size[-1].lower()]}" if size[-1:].lower() in units else f"{size} bytes"


def error_body(err: NginxError, api: str, max_body: str) -> tuple[int, str]:
    """The status and JSON text nginx sends for `err` under `api`; the request id is nginx's variable."""
    body = {
        "error": err.error,
        "code": err.code,
        "solution": err.solution.replace("@MAX_BODY_TEXT@", human_size(max_body)),
        "details": err.details,
        "request_id": REQUEST_ID,
    }
    status, shaped = SHAPES[api](err.sent, body)
    text = json.dumps(shaped, separators=(",", ":"))
    if "'" in text or "\\" in text:  # nginx's single-quoted string: neither may appear
        raise ValueError(f"cannot quote {text} for nginx")
    return status, text


def error_pages(max_body: str) -> str:
    """error_page directives and one internal location per error, answering in the shape of the URI's API.

    Internal URIs rather than named locations: nginx cannot send a request whose request line it could not
    read (414, some 400s) to a named location, which needs a URI.
    """
    lines = ["    # nginx's own errors as JSON, in the shape of the API the request was for (from NGINX_ERRORS)."]
    lines += [f"    error_page {err.status} = {ERROR_URI}{err.status};" for err in NGINX_ERRORS]
    for err in NGINX_ERRORS:
        lines += [
            f"    location = {ERROR_URI}{err.status} {{",
            "        internal;",
            "        default_type application/json;",
        ]
        *others, (_, fallback) = [(api, error_body(err, api, max_body)) for api in SHAPES]
        for api, (status, text) in others:
            lines.append(f"        if ($bgremover_api = {api}) {{ return {status} '{text}'; }}")
        lines += [f"        return {fallback[0]} '{fallback[1]}';", "    }"]
    return "\n".join(lines)


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
    read_timeout: str = "130s",
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
        "READ_TIMEOUT": read_timeout,
        "ERROR_PAGES": error_pages(max_body),
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
    parser.add_argument("--read-timeout", default="130s", help="proxy_read_timeout; keep it above gunicorn's 120 s")
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
        read_timeout=args.read_timeout,
        version=version,
        flood=flood,
    )
    print(text, end="")


if __name__ == "__main__":
    main()
