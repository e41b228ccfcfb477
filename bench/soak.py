"""Soak under faults: mixed traffic through the real nginx → gunicorn → Redis stack on loopback.

    python -m bench.soak [--seconds 600] [--concurrency 8] [--json soak.json]

Every endpoint (native, preview, base64, batch, remove.bg, rembg), good photos and the hostile inputs of
the tests, multipart and JSON, from `--concurrency` clients for `--seconds`. Meanwhile a gunicorn worker
is SIGKILLed twice (each time while it holds a request) and Redis is restarted once. A limited client on
its own loopback address checks that the hourly limits count in Redis before and again after the restart.

Reported: requests and statuses per endpoint; every 5xx and the kill that explains it; RSS and open
file descriptors of every process at the start and the end; the rate-limit checks. Exits non-zero on a
5xx no kill explains, an answer outside what its case expects, a hang, or limits that do not count again.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import redis
import requests
from PIL import Image
from requests.adapters import HTTPAdapter

from bgremover.settings import load_settings
from tests.conftest import DATA
from tests.processing.test_decode import png_header
from tests.services import LOAD_TEST_FLOOD, AppServer, NginxServer, RedisServer, wait_for

MAIN_CLIENT = "127.0.0.1"
LIMITED_CLIENT = "127.0.0.2"  # the rate-limit probe: its own address, so its own hourly counts
PROBE_LIMIT = 30  # /read-file per hour for the probe; the soak's endpoints get HIGH_LIMIT
HIGH_LIMIT = 1_000_000  # counted in Redis like any limit, never reached in a soak
CLIENT_TIMEOUT_S = 180  # past nginx's 130 s read timeout: a request unanswered by then is a hang
REDIS_DOWN_S = 5
SEARCH_PATH = f"{os.environ.get('PATH', '')}:/usr/sbin:/usr/local/sbin"
LIMITER_RECOVERY_S = 120  # Flask-Limiter retries a dead store after 1, 2, 4 … 32 s


# ---- inputs ------------------------------------------------------------------------------------------------


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
            photos.append(_encode(img, "JPEG", quality=88))
        png = _encode(Image.open(io.BytesIO(photos[0])), "PNG")
        return cls(photos=photos, png_photo=png, truncated=photos[-1][: len(photos[-1]) // 3])


def _encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---- the traffic -------------------------------------------------------------------------------------------


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


# ---- processes ---------------------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def rss_mib(pid: int) -> float | None:
    """Resident memory of one process (MiB), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def open_fds(pid: int) -> int | None:
    """How many file descriptors a process has open, None once it is gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None


def held_connections(pid: int, port: int) -> list[str]:
    """The accepted connections to `port` that `pid` has open.

    A sync worker holds one while it serves a request, and none between requests. A gthread worker holds
    one per request it serves or has queued for a thread, and also nginx's idle keep-alive connections
    (which nginx, on finding one dead, retries elsewhere without an error): an upper bound.
    """
    inodes = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    held = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, remote, state, inode = parts[1], parts[2], parts[3], parts[9]
        if inode in inodes and int(local.split(":")[1], 16) == port and state == "01":  # ESTABLISHED
            held.append(f"127.0.0.1:{int(remote.split(':')[1], 16)}")
    return held


@dataclass
class ProcessFigures:
    """A process's role, and its RSS and open fds when first and last seen."""

    role: str
    pid: int
    rss_start: float | None = None
    rss_end: float | None = None
    rss_max: float = 0.0
    fds_start: int | None = None
    fds_end: int | None = None
    first_seen: float = 0.0
    last_seen: float = 0.0
    fate: str = "ran to the end"
    timeline: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MiB), every sample

    def rss_at(self, t: float) -> float:
        """RSS at the first sample at or after `t` seconds."""
        return next((rss for at, rss in self.timeline if at >= t), self.timeline[-1][1])


class Sampler:
    """Samples RSS and fds of the stack's processes every few seconds; workers come and go."""

    def __init__(self, roles: Callable[[], dict[int, str]], clock: Callable[[], float]) -> None:
        self.roles, self.clock = roles, clock
        self.processes: dict[int, ProcessFigures] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()

    def sample(self) -> None:
        """Take one sample of every live process of the stack."""
        now = self.clock()
        with self._lock:
            for pid, role in self.roles().items():
                rss, fds = rss_mib(pid), open_fds(pid)
                if rss is None or fds is None:
                    continue
                figures = self.processes.setdefault(pid, ProcessFigures(role, pid, rss, None, 0.0, fds, None, now))
                figures.rss_end, figures.fds_end, figures.last_seen = rss, fds, now
                figures.rss_max = max(figures.rss_max, rss)
                figures.timeline.append((now, rss))

    def _run(self) -> None:
        while not self._stop.wait(5):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.sample()


# ---- the soak ----------------------------------------------------------------------------------------------


@dataclass
class Kill:
    """A worker SIGKILLed, and what it held then."""

    at: float  # just before the signal
    done: float  # just after: a request ended by the kill may be seen ending before the conductor reads the clock
    pid: int
    held: list[str]
    replacement_ready_s: float | None = None


@dataclass
class LimitCheck:
    """The limited client's view of its hourly limit, before and after Redis restarts."""

    before_remaining: list[int] = field(default_factory=list)
    before_429: int = 0
    redis_down_at: float = 0.0
    redis_up_at: float = 0.0
    during_outage: Counter[int] = field(default_factory=Counter)
    counting_again_at: float | None = None
    after_remaining: list[int] = field(default_factory=list)
    after_redis_counts: list[int] = field(default_factory=list)
    after_429: int = 0
    problems: list[str] = field(default_factory=list)


def attribute(
    outcomes: list[Outcome], kills: list[Kill], finished: set[str]
) -> tuple[list[tuple[Outcome, Kill]], list[Outcome]]:
    """Each 5xx or broken answer: explained by a kill, or not.

    A request in flight on a killed worker ends one of two ways: nginx's own 502 (the worker died before
    it answered), or, for the batch endpoint, whose ZIP is streamed after its 200 is sent, a body cut off.
    Either is explained only when the kill falls inside the request's time, and at most as many as the
    killed worker held connections at the kill (`held_connections`). A 502 must also be missing from
    the app's log (`finished`: the request ids it logged), except a batch's: its line is written when the
    streamed response starts, before the ZIP's first byte is made, so a worker killed mid-batch has logged
    it and nginx, with no byte yet, still answers 502.
    """
    budget = {id(k): len(k.held) for k in kills}
    explained, unexplained = [], []
    for o in sorted((o for o in outcomes if o.status >= 500 or o.failure), key=lambda o: o.started):
        # remove.bg's error shape has no request id, so for its 502s the app's log cannot be asked
        unlogged = o.request_id not in finished or o.endpoint == BATCH
        died_unanswered = o.status == 502 and o.code == "bad_gateway" and unlogged
        died_streaming = o.endpoint == BATCH and o.status == 200 and o.failure.startswith("cut off")
        kill = next((k for k in kills if o.started <= k.done and k.at <= o.ended and budget[id(k)] > 0), None)
        if kill is not None and (died_unanswered or died_streaming):
            budget[id(kill)] -= 1
            explained.append((o, kill))
        else:
            unexplained.append(o)
    return explained, unexplained


class Soak:
    """The stack, the clients, the faults and what they saw."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.inputs = Inputs.load(DATA)
        self.outcomes: list[Outcome] = []
        self.kills: list[Kill] = []
        self.limits = LimitCheck()
        self.sent = 0
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.cases = [c for c in CASES for _ in range(c.weight)]

    def clock(self) -> float:
        return time.monotonic() - self.t0

    # -- the stack

    @contextlib.contextmanager
    def stack(self) -> Iterator[None]:
        served = self.work / "served"
        served.mkdir()
        probe = Image.open(io.BytesIO(self.inputs.photos[0]))
        probe.thumbnail((160, 160))
        (served / "probe.jpg").write_bytes(_encode(probe, "JPEG"))
        self.app_log = self.work / "app.log"
        limits = {
            f"RATE_LIMIT_{name}_PER_HOUR": str(HIGH_LIMIT)
            for name in ("REMOVE_BG", "PREVIEW", "BASE64", "BATCH", "REMOVEBG", "REMBG")
        }
        env = {
            "TRUSTED_PROXY_HOPS": "1",
            "WEB_CONCURRENCY": str(self.args.workers),
            **({"WORKER_THREADS": str(self.args.threads)} if self.args.threads else {}),
            "RATELIMIT_ENABLED": "true",
            **limits,
            "RATE_LIMIT_READ_FILE_PER_HOUR": str(PROBE_LIMIT),
            "READ_FILE_DIR": str(served),
            "LOG_FILE": str(self.app_log),
            # no recycling: a leak shows as growth instead of being reset every 1000 requests
            "GUNICORN_CMD_ARGS": "--max-requests 0",
        }
        with contextlib.ExitStack() as started:
            self.redis = RedisServer(self.work)
            started.callback(self.redis.stop)
            self.redis.start()
            self.app = AppServer({**env, "REDIS_URL": self.redis.url}, self.work)
            started.callback(self.app.stop)
            self.nginx = NginxServer(self.work, [f"127.0.0.1:{self.app.port}"], flood=LOAD_TEST_FLOOD)
            started.callback(self.nginx.stop)
            self.app.start(timeout=300)
            self.nginx.start()
            wait_for(lambda: len(self.workers()) == self.args.workers, 60, "every worker")
            health = requests.get(f"{self.app.url}/health", timeout=30).json()
            threads = self.args.threads or load_settings(_env_file=None).worker_threads
            models = health["checks"]["model"]
            self.layout = {"threads": threads, "models": models["loaded"], "inference": models["inference"]}
            for _ in range(self.args.workers * 2):  # every worker warm before the clock starts
                requests.post(f"{self.app.url}{PREVIEW}", files={"file": ("w.jpg", self.inputs.photos[0])}, timeout=300)
            yield

    def workers(self) -> list[int]:
        return children(self.app.proc.pid) if self.app.proc else []

    def roles(self) -> dict[int, str]:
        roles = {self.app.proc.pid: "gunicorn master"} if self.app.proc else {}
        roles |= {pid: "gunicorn worker" for pid in self.workers()}
        if self.nginx.proc:
            roles[self.nginx.proc.pid] = "nginx master"
            roles |= {pid: "nginx worker" for pid in children(self.nginx.proc.pid)}
        if self.redis.proc and self.redis.proc.poll() is None:
            roles[self.redis.proc.pid] = "redis-server"
        return roles

    # -- the clients

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        with session_from(MAIN_CLIENT) as session:
            while not self.stop.is_set():
                with self._lock:
                    if self.sent >= self.args.max_requests:
                        return
                    self.sent += 1
                case = rng.choice(self.cases)
                self.outcomes.append(self.send(session, case, rng))

    def send(self, session: requests.Session, case: Case, rng: random.Random) -> Outcome:
        started = self.clock()
        try:
            r = session.request(
                case.method,
                f"{self.nginx.url}{case.endpoint}",
                timeout=CLIENT_TIMEOUT_S,
                verify=False,  # nginx's self-signed certificate (per request: REQUESTS_CA_BUNDLE would win)
                stream=True,  # the status and headers even when the body is cut off
                **case.build(self.inputs, rng),
            )
        except requests.RequestException as exc:
            return Outcome(
                case.name, case.endpoint, started, self.clock(), 0, False, failure=_name(exc), expected=False
            )
        try:
            r.content  # noqa: B018 (read the whole body)
        except requests.RequestException as exc:  # the answer began, then the connection broke
            return Outcome(
                case.name,
                case.endpoint,
                started,
                self.clock(),
                r.status_code,
                False,
                r.headers.get("X-Request-ID", ""),
                failure=f"cut off: {_name(exc)}",
                expected=False,
            )
        is_json, request_id, code = _error_fields(r)
        return Outcome(
            case.name,
            case.endpoint,
            started,
            self.clock(),
            r.status_code,
            is_json,
            request_id,
            code,
            expected=r.status_code in case.expect and is_json,
        )

    # -- the faults

    def at(self, fraction: float) -> None:
        """Wait until `fraction` of the run has passed."""
        self.stop.wait(max(0.0, fraction * self.args.seconds - self.clock()))

    def kill_a_worker(self, victim: int) -> int:
        """SIGKILL `victim` while it holds a request (waiting up to 15 s for one); its replacement's pid."""
        before = set(self.workers())
        deadline = time.monotonic() + 15
        held = held_connections(victim, self.app.port)
        while not held and time.monotonic() < deadline:
            time.sleep(0.02)
            held = held_connections(victim, self.app.port)
        at = self.clock()
        os.kill(victim, signal.SIGKILL)
        kill = Kill(at, self.clock(), victim, held)
        self.kills.append(kill)
        wait_for(lambda: set(self.workers()) - before, 60, "a respawned worker")
        (new,) = set(self.workers()) - before
        wait_for(lambda: open_fds(new) and rss_mib(new) and self._ready(), 120, "the new worker")
        kill.replacement_ready_s = self.clock() - kill.at
        return new

    def _ready(self) -> bool:
        return requests.get(f"{self.app.url}/health/ready", timeout=30).ok

    def probe(self, session: requests.Session) -> requests.Response:
        return session.post(f"{self.nginx.url}/read-file", json={"path": "probe.jpg"}, timeout=60, verify=False)

    def redis_count(self) -> int:
        """What the limiter has counted for the limited client in Redis (0 when it has nothing)."""
        client = redis.Redis.from_url(self.redis.url, socket_timeout=2)
        total = 0
        for key in cast(list[bytes], client.keys(f"*{LIMITED_CLIENT}*")):
            if client.type(key) == b"string":
                total += int(cast(bytes, client.get(key)) or 0)
            else:  # a moving window keeps a list
                total += cast(int, client.llen(key))
        return total

    def limit_before(self, session: requests.Session) -> None:
        """Use up the limited client's hour: Remaining falls by one per request, then 429."""
        for _ in range(PROBE_LIMIT + 5):
            r = self.probe(session)
            if r.status_code == 200:
                self.limits.before_remaining.append(int(r.headers["X-RateLimit-Remaining"]))
            elif r.status_code == 429 and r.json().get("code") == "rate_limited" and "Retry-After" in r.headers:
                self.limits.before_429 += 1
            else:
                self.limits.problems.append(f"before the restart: {r.status_code} {r.text[:200]}")
            time.sleep(0.2)
        expected = list(range(PROBE_LIMIT - 1, -1, -1))
        if self.limits.before_remaining != expected or self.limits.before_429 != 5:
            self.limits.problems.append(
                f"before the restart: remaining {self.limits.before_remaining}, {self.limits.before_429} × 429"
            )

    def restart_redis(self, session: requests.Session) -> None:
        """Kill Redis, keep it down a few seconds (the limiter falls back to memory), start it again, empty."""
        assert self.redis.proc is not None
        self.limits.redis_down_at = self.clock()
        self.redis.proc.kill()
        self.redis.proc.wait(10)
        end = time.monotonic() + REDIS_DOWN_S
        while time.monotonic() < end:
            self.limits.during_outage[self.probe(session).status_code] += 1
            time.sleep(0.5)
        self.redis.start()
        self.limits.redis_up_at = self.clock()

    def limit_after(self, session: requests.Session) -> None:
        """Once Redis is back, each request counts there again: Redis's count and Remaining move by one, then 429."""
        deadline = time.monotonic() + LIMITER_RECOVERY_S
        streak: list[tuple[int, int]] = []
        while time.monotonic() < deadline and len(streak) < 3:
            before = self.redis_count()
            r = self.probe(session)
            after = self.redis_count()
            if (
                r.status_code == 200
                and after == before + 1
                and (not streak or int(r.headers["X-RateLimit-Remaining"]) == streak[-1][0] - 1)
            ):
                streak.append((int(r.headers["X-RateLimit-Remaining"]), after))
            else:
                streak = []
            time.sleep(0.5)
        if len(streak) < 3:
            self.limits.problems.append(f"limits did not count in Redis again within {LIMITER_RECOVERY_S} s")
            return
        self.limits.counting_again_at = self.clock()
        self.limits.after_remaining = [remaining for remaining, _ in streak]
        self.limits.after_redis_counts = [count for _, count in streak]
        for _ in range(PROBE_LIMIT + 2):
            r = self.probe(session)
            if r.status_code == 429:
                self.limits.after_429 += 1
                return
            self.limits.after_remaining.append(int(r.headers["X-RateLimit-Remaining"]))
            self.limits.after_redis_counts.append(self.redis_count())
            time.sleep(0.2)
        self.limits.problems.append("after the restart: the limit never refused")

    def conductor(self) -> None:
        """The faults and the limit checks, at fixed points of the run."""
        with session_from(LIMITED_CLIENT) as limited:
            self.at(0.02)
            self.limit_before(limited)
            self.at(0.15)
            victim = min(self.workers())
            replacement = self.kill_a_worker(victim)
            self.at(0.35)
            self.restart_redis(limited)
            self.limit_after(limited)
            self.at(0.75)
            if self.stop.is_set():
                raise RuntimeError("the run ended before the second kill: give it more --seconds")
            self.kill_a_worker(replacement)  # the same slot again: the other worker lives through the whole run

    # -- the run

    def run(self) -> int:
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
        with self.stack():
            load_start = os.getloadavg()
            self.t0 = time.monotonic()
            with Sampler(self.roles, self.clock) as sampler:
                clients = [
                    threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(self.args.concurrency)
                ]
                conductor_failure: list[BaseException] = []

                def conduct() -> None:
                    try:
                        self.conductor()
                    except BaseException as exc:  # reported, and a failed run
                        conductor_failure.append(exc)

                faults = threading.Thread(target=conduct, daemon=True)
                for thread in [*clients, faults]:
                    thread.start()
                self.stop.wait(self.args.seconds)
                self.stop.set()
                grace = time.monotonic() + CLIENT_TIMEOUT_S + 30  # the longest a request may still take
                for thread in [*clients, faults]:
                    thread.join(max(0.0, grace - time.monotonic()))
                hung = [t for t in [*clients, faults] if t.is_alive()]
                elapsed = self.clock()
            load_end = os.getloadavg()
            report = self.report(sampler, elapsed, hung, conductor_failure, load_start, load_end)
        print(report["text"])
        if self.args.json:
            self.args.json.write_text(json.dumps({k: v for k, v in report.items() if k != "text"}, indent=2))
        return 1 if report["failures"] else 0

    # -- the report

    def app_request_ids(self) -> set[str]:
        ids = set()
        for line in self.app_log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                ids.add(json.loads(line).get("request_id") or "")
        return ids - {""}  # lines about no request (the limiter's warnings) have none

    def attribute(self) -> tuple[list[tuple[Outcome, Kill]], list[Outcome]]:
        """Each 5xx or broken answer, explained by a kill or not (see `attribute`)."""
        return attribute(self.outcomes, self.kills, self.app_request_ids())

    def nginx_saw(self) -> tuple[int, list[str], int, Counter[int]]:
        """nginx's view: upstream connections its error log says broke, the request ids of the 502s in its
        access log, how many of those the app logged, and the statuses of the requests nginx sent again
        after a first try failed (its access log lists two upstream attempts)."""
        log = (self.nginx.dir / "error.log").read_text()
        broken = sum(log.count(s) for s in ("upstream prematurely closed", "Connection reset by peer"))
        bad_gateway, retried = [], Counter[int]()
        for line in self.nginx.access_log.read_text().splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry["status"] == 502:
                    bad_gateway.append(entry["request_id"])
                if "," in entry["upstream"]:
                    retried[entry["status"]] += 1
        return broken, bad_gateway, len(set(bad_gateway) & self.app_request_ids()), retried

    def report(
        self,
        sampler: Sampler,
        elapsed: float,
        hung: list[threading.Thread],
        conductor_failure: list[BaseException],
        load_start: tuple[float, float, float],
        load_end: tuple[float, float, float],
    ) -> dict[str, Any]:
        explained, unexplained = self.attribute()
        timeouts = [o for o in self.outcomes if "Timeout" in o.failure]
        unexpected = [o for o in self.outcomes if not o.expected and o.status < 500 and not o.failure]
        failures = []
        if unexplained:
            failures.append(
                f"{len(unexplained)} 5xx or broken answers not explained by a killed worker "
                f"({Counter(o.failure or str(o.status) for o in unexplained)})"
            )
        if timeouts:
            failures.append(f"{len(timeouts)} requests unanswered after {CLIENT_TIMEOUT_S} s: a hang")
        if unexpected:
            failures.append(f"{len(unexpected)} answers outside their case's statuses")
        if hung:
            failures.append(f"{len(hung)} threads still running {CLIENT_TIMEOUT_S + 30} s after the end: a hang")
        if conductor_failure:
            failures.append(f"the faults did not run through: {conductor_failure[0]!r}")
        if len(self.kills) != 2:
            failures.append(f"{len(self.kills)} workers killed, not 2")
        failures += self.limits.problems

        lines = [
            f"## Soak: {elapsed:.0f} s, {self.args.concurrency} clients, {self.args.workers} workers × "
            f"{self.layout['threads']} threads",
            "",
            f"Models {', '.join(self.layout['models'])}; inference {json.dumps(self.layout['inference'])}.",
            "",
            f"Load average (1/5/15 min) at the start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
            f"at the end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}.",
            "",
        ]
        statuses = sorted({o.status for o in self.outcomes})
        by_endpoint: dict[str, Counter[int]] = {}
        for o in self.outcomes:
            by_endpoint.setdefault(o.endpoint, Counter())[o.status] += 1
        lines += [
            f"**{len(self.outcomes)} requests** ({len(self.outcomes) / elapsed:.1f}/s). Statuses per endpoint "
            "(0: no answer):",
            "",
            "| endpoint | " + " | ".join(str(s) for s in statuses) + " | total |",
            "|---|" + "---:|" * (len(statuses) + 1),
        ]
        for endpoint, counts in sorted(by_endpoint.items()):
            lines.append(
                f"| `{endpoint}` | "
                + " | ".join(str(counts.get(s, 0)) for s in statuses)
                + f" | {sum(counts.values())} |"
            )
        total = Counter(o.status for o in self.outcomes)
        lines.append("| all | " + " | ".join(str(total[s]) for s in statuses) + f" | {len(self.outcomes)} |")
        good = sum(1 for o in self.outcomes if o.expected)
        lines += [
            "",
            f"Answers as their case expects (status, and JSON for every error): {good} of {len(self.outcomes)}.",
            "",
        ]
        if unexpected:
            lines.append("Unexpected: " + ", ".join(f"{o.case} → {o.status}" for o in unexpected[:20]))
        lines += ["", "**Faults and 5xx**", ""]
        for n, k in enumerate(self.kills, 1):
            caused = [o for o, kill in explained if kill is k]
            lines.append(
                f"- worker kill {n} at {k.at:.0f} s (pid {k.pid}): it held {len(k.held)} connection(s); lost: "
                + (", ".join(_lost(o) for o in caused) or "none")
                + f"; replacement ready after {k.replacement_ready_s or float('nan'):.1f} s"
            )
        lim = self.limits
        lines.append(
            f"- Redis killed at {lim.redis_down_at:.0f} s, restarted (empty) "
            f"{lim.redis_up_at - lim.redis_down_at:.1f} s later; the limited client's requests during the outage: "
            f"{dict(lim.during_outage)}"
        )
        broken, bad_gateway, answered, retried = self.nginx_saw()
        lines.append(
            f"- nginx: {broken} upstream connection(s) broken (error log); {len(bad_gateway)} × 502 in the access "
            f"log ({', '.join(i[:8] for i in bad_gateway) or 'none'}), {answered} of them in the app's log; "
            f"requests it sent again after a broken first try, by final status: {dict(retried) or 'none'}"
        )
        lines.append(
            f"- 5xx or broken answers: {sum(1 for o in self.outcomes if o.status >= 500 or o.failure)}, of which "
            f"explained by a kill {len(explained)}, unexplained {len(unexplained)}"
            + (
                ": " + ", ".join(f"{o.case} {o.status} at {o.started:.0f}-{o.ended:.0f} s" for o in unexplained[:10])
                if unexplained
                else ""
            )
        )
        lines += [
            "",
            f"**Rate limits** (client {LIMITED_CLIENT}, `/read-file`, {PROBE_LIMIT}/hour):",
            "",
            f"- before the restart: X-RateLimit-Remaining {_span(lim.before_remaining)} over "
            f"{len(lim.before_remaining)} requests, then {lim.before_429} × 429",
            f"- after the restart: counting in Redis again "
            f"{(lim.counting_again_at or 0) - lim.redis_up_at:.0f} s after Redis came back; "
            f"Remaining {_span(lim.after_remaining)} while Redis's count went {_span(lim.after_redis_counts)}, "
            f"then {lim.after_429} × 429",
            "",
            "**Processes** (RSS MiB and open fds when first and last seen; workers: start = after warm-up):",
            "",
            "| process | pid | RSS start | RSS end | RSS max | fds start | fds end | seen (s) | fate |",
            "|---|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        killed = {k.pid for k in self.kills}
        for p in sorted(sampler.processes.values(), key=lambda p: (p.role, p.first_seen)):
            if p.pid in killed:
                p.fate = "SIGKILLed"
            elif p.role == "redis-server" and p.last_seen < elapsed - 10:
                p.fate = "killed (restart)"
            lines.append(
                f"| {p.role} | {p.pid} | {p.rss_start:.0f} | {p.rss_end:.0f} | {p.rss_max:.0f} | {p.fds_start} | "
                f"{p.fds_end} | {p.first_seen:.0f}–{p.last_seen:.0f} | {p.fate} |"
            )
        whole = [p for p in sampler.processes.values() if p.first_seen < 10 and p.last_seen > elapsed - 10]
        lines += [
            "",
            "RSS (MiB) through the run, at 0, 25, 50, 75 and 100 % of it, of the processes that lived through it:",
        ]
        lines.append("")
        for p in sorted(whole, key=lambda p: p.role):
            if p.pid not in killed:
                points = " → ".join(f"{p.rss_at(f * elapsed):.0f}" for f in (0, 0.25, 0.5, 0.75, 1))
                lines.append(f"- {p.role} {p.pid}: {points}")
        lines += ["", "**Result**: " + ("; ".join(failures) if failures else "pass"), ""]
        return {
            "text": "\n".join(lines),
            "failures": failures,
            "seconds": elapsed,
            "requests": len(self.outcomes),
            "statuses": {str(s): n for s, n in total.items()},
            "by_endpoint": {e: {str(s): n for s, n in c.items()} for e, c in by_endpoint.items()},
            "by_case": {c.name: dict(Counter(str(o.status) for o in self.outcomes if o.case == c.name)) for c in CASES},
            "kills": [asdict(k) for k in self.kills],
            "explained_5xx": [{**asdict(o), "kill_pid": k.pid} for o, k in explained],
            "unexplained_5xx": [asdict(o) for o in unexplained],
            "limits": {**asdict(lim), "during_outage": dict(lim.during_outage)},
            "processes": [asdict(p) for p in sampler.processes.values()],
            "load": {"start": load_start, "end": load_end},
            "layout": self.layout,
        }


def _lost(o: Outcome) -> str:
    how = "nginx's 502" if o.status == 502 else f"{o.status}, body {o.failure}"
    return f"{o.case} ({how}, request {o.request_id[:8] or '?'})"


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def _span(values: list[int]) -> str:
    return f"{values[0]}→{values[-1]}" if values else "(none)"


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600, help="length of the traffic (default 600)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients sending at once (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2: one outlives the kills)")
    parser.add_argument("--threads", type=int, help="WORKER_THREADS (default: the service's; 1: sync workers)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    missing = [name for name in ("redis-server", "nginx", "openssl") if not shutil.which(name, path=SEARCH_PATH)]
    if missing:
        parser.error(f"not installed: {', '.join(missing)} (Debian packages redis-server, nginx, openssl)")
    if args.seconds < 240:
        parser.error("--seconds: at least 240, for the faults and the limit checks to fit")
    with tempfile.TemporaryDirectory(prefix="bgremover-soak-") as work:
        sys.exit(Soak(args, Path(work)).run())


if __name__ == "__main__":
    main()
