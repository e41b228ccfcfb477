"""Image URLs under SSRF defences, against real servers on loopback only (127.0.0.2 allowed, 127.0.0.1 a trap).

No test sends a packet to any address outside 127.0.0.0/8 and ::1: private, link-local, CGNAT and metadata ranges
are checked at the address-classification level, on resolved addresses, with connecting made impossible.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import time

import pytest

from bgremover import errors
from bgremover.settings import SettingsError, load_settings
from bgremover.web import urlfetch
from bgremover.web.addresses import AllowList, is_refused
from tests.services import require_binary
from tests.web.loopback import ALLOWED, ImageServer


def settings(**overrides):
    values = {
        "image_url_enabled": True,
        "image_url_allow_hosts": [ALLOWED],
        "image_url_connect_timeout_s": 1.0,
        "image_url_read_timeout_s": 1.0,
        "image_url_deadline_s": 1.5,
        **overrides,
    }
    return load_settings(_env_file=None, **values)


def url(srv: ImageServer, path: str) -> str:
    return f"http://{ALLOWED}:{srv.port}{path}"


def test_an_allowed_host_is_fetched(image_server, photo_bytes):
    assert urlfetch.fetch_image(url(image_server, "/photo.jpg"), settings()) == photo_bytes
    assert image_server.seen[-1]["host"] == f"{ALLOWED}:{image_server.port}"


def test_disabled_by_default_with_a_hint_naming_the_setting(image_server):
    with pytest.raises(errors.ImageUrlDisabled) as err:
        urlfetch.fetch_image(url(image_server, "/photo.jpg"), load_settings(_env_file=None))
    assert err.value.status == 400 and "IMAGE_URL_ENABLED" in err.value.hint


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "2130706433", "0x7f000001", "127.1", "[::]", "0.0.0.0"],
)
def test_loopback_in_any_spelling_is_refused_and_never_contacted(trap, host):
    with pytest.raises(errors.ImageUrlAddressRefused) as err:
        urlfetch.fetch_image(f"http://{host}:{trap.port}/photo.jpg", settings())
    assert err.value.status == 400
    assert "127.0.0.1" not in str(err.value.to_dict()) and "::1" not in str(err.value.to_dict())
    time.sleep(0.05)
    assert trap.connections == []


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://127.0.0.2:70/_x", "ftp://example.com/a.jpg"])
def test_other_schemes_are_refused(target):
    with pytest.raises(errors.ImageUrlSchemeRefused):
        urlfetch.fetch_image(target, settings())


@pytest.mark.parametrize("target", ["http://user:pw@127.0.0.2/x.jpg", "http:///x.jpg", "http://a b/", "x" * 3000, 42])
def test_malformed_urls_are_400s(target):
    with pytest.raises(errors.InvalidImageUrl):
        urlfetch.fetch_image(target, settings())


def test_a_redirect_to_the_trap_is_refused_before_connecting(image_server, trap):
    with pytest.raises(errors.ImageUrlAddressRefused):
        urlfetch.fetch_image(url(image_server, f"/redirect?to=http://127.0.0.1:{trap.port}/photo.jpg"), settings())
    with pytest.raises(errors.ImageUrlSchemeRefused):
        urlfetch.fetch_image(url(image_server, "/redirect?to=file:///etc/passwd"), settings())
    time.sleep(0.05)
    assert trap.connections == []


def test_redirects_are_followed_up_to_the_limit(image_server, photo_bytes):
    assert urlfetch.fetch_image(url(image_server, "/redirect?to=/photo.jpg"), settings()) == photo_bytes
    with pytest.raises(errors.ImageUrlTooManyRedirects):
        urlfetch.fetch_image(url(image_server, "/loop/0"), settings())
    # the first request and 3 redirects
    assert [s["path"] for s in image_server.seen[-4:]] == ["/loop/0", "/loop/1", "/loop/2", "/loop/3"]


@pytest.mark.parametrize("path", ["/drip-body", "/drip-head"])
def test_a_slow_drip_server_is_cut_at_the_deadline(image_server, path):
    started = time.monotonic()
    with pytest.raises(errors.ImageUrlTimeout):
        urlfetch.fetch_image(url(image_server, path), settings(image_url_deadline_s=1.5))
    assert 1.4 < time.monotonic() - started < 3.0  # each byte comes within the read timeout: the deadline ends it


def test_an_endless_body_stops_at_the_byte_cap(image_server):
    started = time.monotonic()
    with pytest.raises(errors.PayloadTooLarge) as err:
        capped = settings(max_content_length=200_000, image_url_deadline_s=10)
        urlfetch.fetch_image(url(image_server, "/endless"), capped)
    assert err.value.status == 413 and time.monotonic() - started < 5
    with pytest.raises(errors.PayloadTooLarge):  # a declared length over the cap: refused before reading
        urlfetch.fetch_image(url(image_server, "/liar"), settings())


def test_a_web_page_is_415_like_an_upload(image_server):
    with pytest.raises(errors.UnsupportedFormat) as err:
        urlfetch.fetch_image(url(image_server, "/page.html"), settings())
    assert err.value.status == 415


def test_an_error_status_and_a_closed_port_are_unreachable(image_server, trap):
    with pytest.raises(errors.ImageUrlUnreachable) as err:
        urlfetch.fetch_image(url(image_server, "/missing.jpg"), settings())
    assert "404" in err.value.details
    closed = socket.create_server((ALLOWED, 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(errors.ImageUrlUnreachable):
        urlfetch.fetch_image(f"http://{ALLOWED}:{port}/x.jpg", settings())


# ---- names, pinning and TLS (a stub resolver maps *.test names to loopback addresses) ------------------------


@pytest.fixture
def resolver(monkeypatch):
    """getaddrinfo that answers for *.test names from a table (a list per name: one answer per call)."""
    real = socket.getaddrinfo
    table: dict[str, list[list[str]]] = {}
    calls: list[str] = []

    def fake(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".test"):
            calls.append(host)
            answers = table[host]
            addresses = answers.pop(0) if len(answers) > 1 else answers[0]
            family = {True: socket.AF_INET6, False: socket.AF_INET}
            return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table, calls


def test_dns_is_resolved_once_and_the_connection_pinned(image_server, trap, resolver, photo_bytes):
    table, calls = resolver
    table["rebind.test"] = [[ALLOWED], ["127.0.0.1"]]  # a rebinding name: the second answer is the trap
    assert urlfetch.fetch_image(f"http://rebind.test:{image_server.port}/photo.jpg", settings()) == photo_bytes
    assert calls == ["rebind.test"]
    # the name is sent, the address was pinned
    assert image_server.seen[-1]["host"] == f"rebind.test:{image_server.port}"
    assert trap.connections == []


def test_a_name_with_any_refused_address_is_refused(resolver, monkeypatch):
    table, _ = resolver
    table["mixed.test"] = [["93.184.216.34", "10.0.0.7"]]  # one public, one private: refused as a whole

    def no_connect(*args, **kwargs):
        raise AssertionError("a refused name must not be connected to")

    monkeypatch.setattr(socket, "create_connection", no_connect)
    monkeypatch.setattr("urllib3.util.connection.create_connection", no_connect)
    with pytest.raises(errors.ImageUrlAddressRefused) as err:
        urlfetch.fetch_image("http://mixed.test/x.jpg", settings())
    assert "10.0.0.7" not in str(err.value.to_dict())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    openssl = require_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    for name in ("images.test", "other.test"):
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-addext", f"subjectAltName=DNS:{name}",
             "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem")],
            check=True,
            capture_output=True,
        )  # fmt: skip
    return folder


def tls_server(folder, name: str, photo_bytes: bytes) -> ImageServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / f"{name}.pem", folder / f"{name}.key")
    return ImageServer(ALLOWED, photo_bytes, tls=context).start()


def test_https_pins_the_address_but_verifies_the_name(tls_files, resolver, photo_bytes):
    table, _ = resolver
    table["images.test"] = [[ALLOWED]]
    srv = tls_server(tls_files, "images.test", photo_bytes)
    try:
        got = urlfetch.fetch_image(
            f"https://images.test:{srv.port}/photo.jpg",
            settings(image_url_ca_bundle=tls_files / "images.test.pem", image_url_deadline_s=5),
        )
        assert got == photo_bytes
        assert srv.sni == "images.test" and srv.seen[-1]["host"] == f"images.test:{srv.port}"
    finally:
        srv.stop()


def test_https_with_a_certificate_for_another_name_fails(tls_files, resolver, photo_bytes):
    table, _ = resolver
    table["images.test"] = [[ALLOWED]]
    srv = tls_server(tls_files, "other.test", photo_bytes)  # trusted, but issued for another name
    try:
        with pytest.raises(errors.ImageUrlUnreachable) as err:
            urlfetch.fetch_image(
                f"https://images.test:{srv.port}/photo.jpg",
                settings(image_url_ca_bundle=tls_files / "other.test.pem", image_url_deadline_s=5),
            )
        assert "certificate" in err.value.details
        assert srv.seen == []
    finally:
        srv.stop()


# ---- address classification: no packet is sent -------------------------------------------------------------

REFUSED = [
    "127.0.0.1", "127.255.0.9", "0.0.0.0", "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "169.254.1.1", "100.64.0.1", "100.127.255.254", "100.100.100.200", "192.0.0.8",
    "192.0.2.1", "198.18.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::", "::1", "fc00::1", "fd12:3456::1", "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1",
    "2002:a00:1::", "64:ff9b::a9fe:a9fe", "2001:0:4136:e378:8000:63bf:f5ff:fffe",
]  # fmt: skip
PUBLIC = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert is_refused(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert not is_refused(ipaddress.ip_address(address))


def test_allow_list_by_name_and_by_network():
    allow = AllowList.parse(["images.internal", "10.0.0.0/8", "127.0.0.2"])
    ten, two = ipaddress.ip_address("10.9.9.9"), ipaddress.ip_address("127.0.0.2")
    assert allow.allows("IMAGES.internal.", [ipaddress.ip_address("192.168.0.1")])
    assert allow.allows("anything", [ten, two])
    assert not allow.allows("anything", [ten, ipaddress.ip_address("127.0.0.1")])  # every address must be listed
    with pytest.raises(ValueError, match="IMAGE_URL_ALLOW_HOSTS: not a host name"):
        AllowList.parse(["not a host!"])


def test_an_invalid_allow_listed_host_stops_the_app_before_any_fetch(make_app):
    with pytest.raises(ValueError, match="IMAGE_URL_ALLOW_HOSTS: not a host name, IP address or network: 'not a host'"):
        make_app(image_url_enabled=True, image_url_allow_hosts="images.internal, not a host")


@pytest.mark.parametrize(
    "env,name",
    [
        ({"IMAGE_URL_DEADLINE_S": "0"}, "IMAGE_URL_DEADLINE_S"),
        ({"IMAGE_URL_CA_BUNDLE": "/nonexistent/ca.pem"}, "IMAGE_URL_CA_BUNDLE"),
    ],
)
def test_url_settings_are_validated(monkeypatch, env, name):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(_env_file=None)
