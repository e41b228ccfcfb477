"""The soak's traffic: the request bodies, the table of cases it picks from, and one request as a client saw it."""

from __future__ import annotations

import base64
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from PIL import Image
from requests.adapters import HTTPAdapter

from tests.processing.test_decode import png_header

MAIN_CLIENT = "127.0.0.1"
CLIENT_TIMEOUT_S = 180  # past nginx's 130 s read timeout: a request unanswered by then is a hang
GRACE_S = CLIENT_TIMEOUT_S + 30  # after the last second: the longest a client may still take


@dataclass
class Inputs:
    """Request bodies: real photos at a few sizes, and the hostile inputs of the tests."""

    photos: list[bytes]
    png_photo: bytes
    truncated: bytes
    text: bytes = b"GIF? no, a text file"
    huge: bytes = field(default_factory=lambda: png_header(100_000, 100_000))
    tiny: bytes = field(default_factory=lambda: png_header(20, 20))
    oversize: bytes = b"\0" * (17 * 2**20)  # over nginx's 16 MiB

    @classmethod
    def load(cls, data: Path) -> Inputs:
        """Photos of three evaluation sets, scaled to a long side of 320, 512 or 768 px."""
        sources = sorted((data / "duts-te-150" / "images").glob("*.jpg"))[:6]
        sources += sorted((data / "dis5k-mini" / "images").iterdir())[:4]
        sources.append(data / "rembg-fixtures" / "fixtures" / "car-1.jpg")
        photos = []
        for i, path in enumerate(sources):
            img = Image.open(path).convert("RGB")
            side = (320, 512, 768)[i % 3]
            img.thumbnail((side, side))
            photos.append(encode(img, "JPEG", quality=88))
        png = encode(Image.open(io.BytesIO(photos[0])), "PNG")
        return cls(photos=photos, png_photo=png, truncated=photos[-1][: len(photos[-1]) // 3])


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    """The image's bytes in `fmt`."""
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Case:
    """One kind of request: where it goes, how it is built, and the statuses it may get."""

    name: str
    endpoint: str
    weight: int
    expect: frozenset[int]
    build: Callable[[Inputs, random.Random], dict[str, Any]]
    method: str = "POST"


def _file(field_name: str, data: bytes, name: str = "photo.jpg") -> dict[str, Any]:
    return {"files": {field_name: (name, data, "image/jpeg")}}


def _photo(i: Inputs, r: random.Random) -> bytes:
    return r.choice(i.photos)


OK = frozenset({200})
NATIVE = "/remove-background"
PREVIEW = "/remove-background-preview"
BASE64 = "/remove-background-base64"
BATCH = "/remove-background-batch"
REMOVEBG = "/v1.0/removebg"
REMBG = "/api/remove"

CASES = (
    # good photos, every endpoint, multipart and JSON
    Case(
        "native photo",
        NATIVE,
        6,
        OK,
        lambda i, r: {**_file("file", _photo(i, r)), "data": {"format": r.choice(["png", "webp"])}},
    ),
    Case(
        "native png photo, options",
        NATIVE,
        2,
        OK,
        lambda i, r: {
            **_file("file", i.png_photo, "p.png"),
            "data": {"max_width": "300", "bg_color": "#ffffff", "trim": "true"},
        },
    ),
    Case("preview photo", PREVIEW, 5, OK, lambda i, r: _file("file", _photo(i, r))),
    Case("base64 photo (JSON)", BASE64, 5, OK, lambda i, r: {"json": {"image": _b64(_photo(i, r)), "format": "webp"}}),
    Case(
        "batch of 3, one truncated",
        BATCH,
        2,
        OK,
        lambda i, r: {
            "files": [
                ("file", ("a.jpg", _photo(i, r))),
                ("file", ("b.jpg", i.truncated)),
                ("file", ("c.jpg", _photo(i, r))),
            ]
        },
    ),
    Case(
        "remove.bg photo",
        REMOVEBG,
        4,
        OK,
        lambda i, r: {**_file("image_file", _photo(i, r)), "data": {"size": "preview"}},
    ),
    Case(
        "remove.bg base64 (JSON)",
        REMOVEBG,
        3,
        OK,
        lambda i, r: {
            "json": {"image_file_b64": _b64(_photo(i, r)), "size": "auto", "crop": True},
            "headers": {"Accept": "application/json"},
        },
    ),
    Case("rembg photo", REMBG, 5, OK, lambda i, r: _file("file", _photo(i, r))),
    Case("rembg photo, om", REMBG, 1, OK, lambda i, r: {**_file("file", _photo(i, r)), "data": {"om": "true"}}),
    # hostile inputs (tests/api/test_errors.py, test_removebg.py, test_rembg_api.py, test_nginx_errors.py)
    Case("native truncated", NATIVE, 2, frozenset({422}), lambda i, r: _file("file", i.truncated)),
    Case("native not an image", NATIVE, 2, frozenset({415}), lambda i, r: _file("file", i.text, "x.jpg")),
    Case("native huge declared size", NATIVE, 2, frozenset({422}), lambda i, r: _file("file", i.huge, "x.png")),
    Case("native too small", PREVIEW, 1, frozenset({422}), lambda i, r: _file("file", i.tiny, "x.png")),
    Case("native empty file", NATIVE, 1, frozenset({400}), lambda i, r: _file("file", b"")),
    Case("native missing file", NATIVE, 1, frozenset({400}), lambda i, r: {"data": {"format": "png"}}),
    Case(
        "native bad option",
        PREVIEW,
        2,
        frozenset({400}),
        lambda i, r: {
            **_file("file", _photo(i, r)),
            "data": {r.choice(["quality", "refine", "trim", "max_width"]): "150x"},
        },
    ),
    Case(
        "base64 broken JSON",
        BASE64,
        1,
        frozenset({400}),
        lambda i, r: {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
    ),
    Case("base64 not base64", BASE64, 1, frozenset({400}), lambda i, r: {"json": {"image": "@@@notbase64"}}),
    Case("base64 not an image", BASE64, 1, frozenset({415}), lambda i, r: {"json": {"image": _b64(i.text)}}),
    Case("batch of nothing", BATCH, 1, frozenset({400}), lambda i, r: {"data": {"format": "png"}}),
    Case("remove.bg truncated", REMOVEBG, 1, frozenset({400}), lambda i, r: _file("image_file", i.truncated)),
    Case(
        "remove.bg bad size",
        REMOVEBG,
        1,
        frozenset({400}),
        lambda i, r: {"data": {"image_file_b64": "aGVsbG8=", "size": "giant"}},
    ),
    Case(
        "remove.bg text body",
        REMOVEBG,
        1,
        frozenset({400}),
        lambda i, r: {"data": b"x", "headers": {"Content-Type": "text/plain"}},
    ),
    Case("rembg truncated", REMBG, 1, frozenset({422}), lambda i, r: _file("file", i.truncated)),
    Case(
        "rembg bad bgc",
        REMBG,
        1,
        frozenset({400}),
        lambda i, r: {**_file("file", _photo(i, r)), "data": {"bgc": "red"}},
    ),
    Case("rembg not an image", REMBG, 1, frozenset({415}), lambda i, r: _file("file", i.text)),
    Case("unknown path", "/no/such/page", 1, frozenset({404}), lambda i, r: {}, "GET"),
    Case("wrong method", NATIVE, 1, frozenset({405}), lambda i, r: {}, "GET"),
    Case(
        "body over 16 MiB (nginx)",
        REMBG,
        1,
        frozenset({413}),
        lambda i, r: {"data": i.oversize, "headers": {"Content-Type": "image/jpeg"}},
    ),
    Case(
        "headers too large (nginx)", REMOVEBG, 1, frozenset({400}), lambda i, r: {"headers": {"X-Padding": "a" * 20000}}
    ),
)


@dataclass
class Outcome:
    """One answered (or unanswered) request, as the client saw it."""

    case: str
    endpoint: str
    started: float  # seconds since the soak started
    ended: float
    status: int  # 0: no answer (the exception is in `failure`)
    json_error: bool  # an error answer (>= 400) whose body is JSON
    request_id: str = ""
    code: str = ""
    failure: str = ""
    expected: bool = True


def _error_fields(r: requests.Response) -> tuple[bool, str, str]:
    """Whether an error answer is JSON, and its request id and code in whichever API shape it has."""
    if r.status_code < 400:
        return True, r.headers.get("X-Request-ID", ""), ""
    if not r.headers.get("Content-Type", "").startswith("application/json"):
        return False, r.headers.get("X-Request-ID", ""), ""
    try:
        body = r.json()
    except ValueError:
        return False, "", ""
    first = body.get("errors", [{}])[0] if isinstance(body, dict) else {}
    request_id = body.get("request_id") or r.headers.get("X-Request-ID", "")
    return True, request_id, body.get("code") or first.get("code", "")


class SourceAddress(HTTPAdapter):
    """Requests from a given loopback address: a client of its own for the rate limits."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A keep-alive session whose connections leave from `address`."""
    session = requests.Session()
    session.mount("https://", SourceAddress(address))
    return session


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def send(
    session: requests.Session, base_url: str, case: Case, inputs: Inputs, rng: random.Random, clock: Callable[[], float]
) -> Outcome:
    """Send one request of `case` and read its whole answer: what the client saw, and whether its case expects it."""
    started = clock()

    def seen(status: int, json_error: bool, request_id: str = "", code: str = "", failure: str = "") -> Outcome:
        expected = not failure and status in case.expect and json_error
        return Outcome(
            case.name, case.endpoint, started, clock(), status, json_error, request_id, code, failure, expected
        )

    try:
        r = session.request(
            case.method,
            f"{base_url}{case.endpoint}",
            timeout=CLIENT_TIMEOUT_S,
            verify=False,  # nginx's self-signed certificate (per request: REQUESTS_CA_BUNDLE would win)
            stream=True,  # the status and headers even when the body is cut off
            **case.build(inputs, rng),
        )
    except requests.RequestException as exc:
        return seen(0, False, failure=_name(exc))
    try:
        r.content  # noqa: B018 (read the whole body)
    except requests.RequestException as exc:  # the answer began, then the connection broke
        return seen(r.status_code, False, r.headers.get("X-Request-ID", ""), failure=f"cut off: {_name(exc)}")
    return seen(r.status_code, *_error_fields(r))
