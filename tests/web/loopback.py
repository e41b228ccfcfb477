"""Real HTTP servers on loopback for the URL-fetch tests: an image server, and a trap that records connections."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ALLOWED = "127.0.0.2"  # where the image server listens, allow-listed by the tests (Linux routes 127.0.0.0/8 to lo)
DRIP_INTERVAL_S = 0.2
DRIP_FOR_S = 20  # a drip handler gives up after this, so no thread outlives the test by long


class ImageHandler(BaseHTTPRequestHandler):
    """Paths: /photo.jpg, /page.html, /redirect?to=URL, /loop/N, /drip-body, /drip-head, /endless, /liar."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        server = self.server
        server.seen.append({"path": self.path, "host": self.headers.get("Host"), "sni": getattr(server, "sni", None)})
        url = urlsplit(self.path)
        if url.path == "/photo.jpg":
            self._send(200, server.photo, "image/jpeg")
        elif url.path == "/page.html":
            self._send(200, b"<!doctype html><html><body>not an image</body></html>" * 20, "text/html")
        elif url.path == "/redirect":
            self._send(302, b"", "text/plain", Location=parse_qs(url.query)["to"][0])
        elif url.path.startswith("/loop/"):
            self._send(302, b"", "text/plain", Location=f"/loop/{int(url.path.rsplit('/', 1)[1]) + 1}")
        elif url.path == "/liar":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
        elif url.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            self._stream(server.photo[:1024], b"\0" * 65536, interval=0.0)
        elif url.path == "/drip-body":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            self._stream(server.photo[:16], b"\0", interval=DRIP_INTERVAL_S)
        elif url.path == "/drip-head":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            self._stream(b"", b"X", interval=DRIP_INTERVAL_S)
        else:
            self._send(404, b"no", "text/plain")

    def _stream(self, first: bytes, chunk: bytes, interval: float) -> None:
        """Send `first`, then `chunk` over and over until the client leaves or DRIP_FOR_S passes."""
        ends = time.monotonic() + DRIP_FOR_S
        with contextlib.suppress(OSError):
            self.wfile.write(first)
            while time.monotonic() < ends:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(interval)
        self.close_connection = True


class ImageServer(ThreadingHTTPServer):
    """The allow-listed image server; records each request's path, Host header and (under TLS) SNI name."""

    daemon_threads = True

    def __init__(self, host: str, photo: bytes, tls: ssl.SSLContext | None = None) -> None:
        super().__init__((host, 0), ImageHandler)
        self.photo = photo
        self.seen: list[dict[str, object]] = []
        self.sni: str | None = None
        if tls is not None:
            tls.sni_callback = self._record_sni
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def _record_sni(self, sock: ssl.SSLSocket, name: str | None, ctx: ssl.SSLContext) -> None:
        self.sni = name

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> ImageServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class Trap:
    """Listeners on 127.0.0.1 and ::1 (one port) that record every connection made to them."""

    def __init__(self) -> None:
        self.connections: list[tuple[str, int]] = []
        self.sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.sockets[0].getsockname()[1]
        if socket.has_ipv6:
            with contextlib.suppress(OSError):
                self.sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in self.sockets]
        for thread in self.threads:
            thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            self.connections.append(peer[:2])
            conn.close()

    def close(self) -> None:
        for listener in self.sockets:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
