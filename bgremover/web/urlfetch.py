"""Fetch an image from a URL with SSRF defences: http(s) only, resolve once and pin, public addresses only."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError, SSLError
from urllib3.response import HTTPResponse
from urllib3.util.ssl_match_hostname import CertificateError

from bgremover import __version__
from bgremover.errors import (
    BgRemoverError,
    ImageUrlAddressRefused,
    ImageUrlDisabled,
    ImageUrlSchemeRefused,
    ImageUrlTimeout,
    ImageUrlTooManyRedirects,
    ImageUrlUnreachable,
    InvalidImageUrl,
    PayloadTooLarge,
)
from bgremover.processing.decode import sniff
from bgremover.settings import Settings
from bgremover.web.addresses import AllowList, IPAddress, is_refused

MAX_URL_LENGTH = 2048
CHUNK = 64 * 1024
SNIFF_BYTES = 16  # what decode.sniff looks at
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
HEADERS = {
    "User-Agent": f"bgremover/{__version__} (image fetch)",
    "Accept": "image/*",
    "Accept-Encoding": "identity",  # the byte cap counts what arrives; no decompression bombs
    "Connection": "close",
}


@dataclass(frozen=True)
class Target:
    """One parsed http(s) URL: where to connect and what to ask for."""

    url: str
    scheme: str
    host: str  # lower-case, IDNA-encoded; an IPv6 literal without brackets
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        """The Host header: the name from the URL (not the pinned address), with a non-default port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_target(url: object) -> Target:
    """An absolute http(s) URL without credentials, or a typed 400 saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidImageUrl("Invalid parameter 'image_url': expected a URL string")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidImageUrl(details=f"A URL of at most {MAX_URL_LENGTH} characters without spaces")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidImageUrl() from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ImageUrlSchemeRefused(details=f"Got {scheme + ':' if scheme else 'no scheme'}")
    if parts.username is not None or parts.password is not None:
        raise InvalidImageUrl(details="The URL carries a user name or password")
    if not parts.hostname:
        raise InvalidImageUrl(details="The URL has no host")
    try:
        host = parts.hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise InvalidImageUrl(details="The host name is not valid") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, scheme, host, port or DEFAULT_PORTS[scheme], path)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to, once (the connection is then pinned to one of them)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ImageUrlUnreachable(details="The host name does not resolve") from None
    found: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise ImageUrlUnreachable(details="The host name does not resolve")
    return found


def checked_addresses(target: Target, allow: AllowList) -> list[IPAddress]:
    """The target's addresses, refused as a whole if ANY of them is not public (unless allow-listed)."""
    addresses = resolve(target.host, target.port)
    if not allow.allows(target.host, addresses) and any(is_refused(a) for a in addresses):
        raise ImageUrlAddressRefused()
    return addresses


class Deadline:
    """The total time budget of one fetch, redirects included."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; raises the timeout error once none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise ImageUrlTimeout(details="The download did not finish within the deadline")
        return left


class Watchdog:
    """Shuts a connection's socket when the deadline passes, so a slow-drip server cannot hold a worker."""

    def __init__(self, seconds: float) -> None:
        self.sock: socket.socket | None = None  # set once connected (http.client may drop its own reference)
        self.fired = False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        if self.sock is not None:
            with contextlib.suppress(OSError):  # the plain socket's shutdown, also under TLS: a blocked read returns
                socket.socket.shutdown(self.sock, socket.SHUT_RDWR)

    def __enter__(self) -> Watchdog:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()


def _connection(target: Target, address: IPAddress, settings: Settings, timeout: float) -> HTTPConnection:
    """A connection to the pinned address that speaks to the URL's name (Host header, SNI, certificate)."""
    if target.scheme == "http":
        return HTTPConnection(str(address), target.port, timeout=timeout)
    return HTTPSConnection(
        str(address),
        target.port,
        timeout=timeout,
        cert_reqs="CERT_REQUIRED",
        ca_certs=str(settings.image_url_ca_bundle or certifi.where()),
        server_hostname=target.host,
        assert_hostname=target.host,
    )


def _read_body(response: HTTPResponse, cap: int, watchdog: Watchdog) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(details=f"The image at the URL is larger than {cap} bytes")
    chunks, total, sniffed = [], 0, False
    for chunk in response.stream(CHUNK, decode_content=False):
        chunks.append(chunk)
        total += len(chunk)
        if total > cap:
            raise PayloadTooLarge(details=f"The image at the URL is larger than {cap} bytes")
        if not sniffed and total >= SNIFF_BYTES:
            sniff(b"".join(chunks))  # a web page instead of an image stops here, not after 16 MiB
            sniffed = True
    if watchdog.fired:
        raise ImageUrlTimeout(details="The download did not finish within the deadline")
    data = b"".join(chunks)
    sniff(data)
    return data


def _failure(exc: Exception, watchdog: Watchdog) -> BgRemoverError:
    """The typed error for a failed connection or read (never naming the address)."""
    if watchdog.fired:
        return ImageUrlTimeout(details="The download did not finish within the deadline")
    if isinstance(exc, NewConnectionError):  # a subclass of ConnectTimeoutError in urllib3 2: check it first
        return ImageUrlUnreachable(details="The server refused the connection")
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return ImageUrlTimeout(details="The server did not answer in time")
    if isinstance(exc, SSLError | ssl.SSLError | CertificateError):
        return ImageUrlUnreachable(details="The server's TLS certificate was not accepted")
    return ImageUrlUnreachable(details="The connection failed")


def _get(target: Target, addresses: list[IPAddress], settings: Settings, deadline: Deadline) -> tuple[int, str, bytes]:
    """(status, Location, body) of one GET to the first of the checked addresses that accepts a connection."""
    failure: BgRemoverError = ImageUrlUnreachable(details="The server refused the connection")
    for address in addresses:
        connection = _connection(target, address, settings, min(settings.image_url_connect_timeout_s, deadline.left()))
        with Watchdog(deadline.left()) as watchdog:
            try:
                connection.connect()
            except Exception as exc:
                connection.close()
                failure = _failure(exc, watchdog)
                if watchdog.fired:
                    raise failure from None
                continue  # the name's next address, if it has one
            watchdog.sock = connection.sock
            if watchdog.fired:  # the deadline passed while connecting
                connection.close()
                raise ImageUrlTimeout(details="The download did not finish within the deadline")
            response = None
            try:
                connection.sock.settimeout(settings.image_url_read_timeout_s)
                connection.request(
                    "GET",
                    target.path,
                    headers={**HEADERS, "Host": target.host_header},
                    preload_content=False,  # the body is streamed under the byte cap, not read whole
                    decode_content=False,
                )
                response = connection.getresponse()
                if response.status in REDIRECTS:
                    return response.status, response.headers.get("Location", ""), b""
                if response.status != 200:
                    raise ImageUrlUnreachable(details=f"The server answered HTTP {response.status}")
                return response.status, "", _read_body(response, settings.max_content_length, watchdog)
            except BgRemoverError:
                raise
            except Exception as exc:
                raise _failure(exc, watchdog) from None
            finally:
                if response is not None:
                    response.close()
                connection.close()
    raise failure


def fetch_image(url: object, settings: Settings) -> bytes:
    """The bytes of an image URL, fetched under SSRF defences; typed 4xx errors for every refusal."""
    if not settings.image_url_enabled:
        raise ImageUrlDisabled()
    allow = AllowList.parse(settings.image_url_allow_hosts)
    deadline = Deadline(settings.image_url_deadline_s)
    target = parse_target(url)
    for _ in range(settings.image_url_max_redirects + 1):
        addresses = checked_addresses(target, allow)
        status, location, body = _get(target, addresses, settings, deadline)
        if status == 200:
            return body
        if not location:
            raise ImageUrlUnreachable(details=f"The server answered HTTP {status} without a Location")
        target = parse_target(urljoin(target.url, location))
    raise ImageUrlTooManyRedirects(details=f"More than {settings.image_url_max_redirects} redirects")
