"""PROCESSING_TIMEOUT_S: a request past its deadline gets a 504 in its API's shape, the worker lives on, nothing leaks.

The deadline is cooperative (processing/deadline.py): no signal, only checks at safe points.
"""

from __future__ import annotations

import faulthandler
import io
import random
import signal
import threading
import time

import pytest
import requests
from PIL import Image

from bgremover.errors import ProcessingTimeout
from bgremover.processing import Deadline, parse_options
from bgremover.web import api, rembg_api, removebg
from tests.api.test_errors import assert_error
from tests.conftest import DATA, encode_image
from tests.services import AppServer

WATCHDOG_S = 600  # far above the stress test's own run (under a minute here): only a hang gets this far
WALL_CLOCK_RUNS = 150  # requests with a real deadline somewhere inside them (with the sweep: ~200 in all)


@pytest.fixture(scope="module")
def big_photo(photo_bytes) -> bytes:
    """The car photo at the largest legal size: with refine=high, several times any deadline set here."""
    return encode_image(Image.open(io.BytesIO(photo_bytes)).convert("RGB").resize((4096, 4096)), "JPEG", quality=90)


@pytest.fixture(scope="module")
def small_photo() -> bytes:
    photo = sorted((DATA / "duts-te-150" / "images").iterdir())[0]
    return encode_image(Image.open(photo).convert("RGB").resize((120, 90)), "JPEG")


def upload(data: bytes, **fields):
    return {"file": (io.BytesIO(data), "big.jpg"), **fields}


def test_slow_request_answers_504_json_and_the_next_one_works(make_app, big_photo, photo_bytes):
    client = make_app(processing_timeout_s=0.3, ratelimit_enabled=False).test_client()
    started = time.perf_counter()
    r = client.post("/remove-background-preview", data=upload(big_photo, refine="high"))
    elapsed = time.perf_counter() - started
    body = assert_error(r, 504, "processing_timeout")
    assert "0.3 s" in body["details"] and "refine=standard" in body["solution"]
    assert elapsed < 4, f"the deadline was seen after {elapsed:.1f} s"
    small = make_app(processing_timeout_s=30, ratelimit_enabled=False).test_client()
    assert small.post("/remove-background-preview", data=upload(photo_bytes)).status_code == 200


def test_engine_starts_no_stage_after_the_deadline(engine, photo_bytes):
    with pytest.raises(ProcessingTimeout) as err:
        engine.process(photo_bytes, parse_options({}), deadline=Deadline(0))
    assert err.value.status == 504 and "decode" in err.value.details
    assert engine.process(photo_bytes, parse_options({}), deadline=Deadline(60)).width > 0


def test_the_deadline_is_seen_in_any_thread(engine, big_photo):
    """No signal is involved, so a threaded server stops at the same safe points as the main thread."""
    outcome: dict[str, object] = {}

    def work():
        try:
            engine.process(big_photo, parse_options({"refine": "high"}), deadline=Deadline(0.2))
        except ProcessingTimeout as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=work)
    started = time.perf_counter()
    thread.start()
    thread.join(60)
    assert isinstance(outcome.get("error"), ProcessingTimeout)
    assert time.perf_counter() - started < 4


class AtLook(Deadline):
    """A deadline that passes at its n-th look (the n-th safe point of a request), whatever the clock says.

    Each look also records whether a signal-driven timer is armed: none may be, ever.
    """

    def __init__(self, n: float) -> None:
        super().__init__(3600)
        self.n, self.looks, self.alarms = n, 0, []

    def passed(self) -> bool:
        self.looks += 1
        self.alarms.append((signal.getitimer(signal.ITIMER_REAL), signal.getsignal(signal.SIGALRM)))
        return self.looks > self.n


def remove_bgs_timeout(response) -> None:
    assert response.status_code == 504, response.get_data(as_text=True)[:300]
    assert response.get_json()["errors"][0]["code"] == "processing_timeout"


def rembgs_timeout(response) -> None:
    assert response.status_code == 504, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["code"] == "processing_timeout" and body["detail"].startswith("Processing took too long")


def native_timeout(response) -> None:
    assert_error(response, 504, "processing_timeout")


REMOVEBG_LAYOUT = {"crop": "true", "scale": "80%", "size": "full"}
# (module whose views make the deadline, how to send the request, the 504's shape in that API)
REQUESTS = {
    "native": (
        api,
        lambda c, photo: c.post("/remove-background-preview", data=upload(photo, bg_color="#00ff0080")),
        native_timeout,
    ),
    "remove.bg": (
        removebg,
        lambda c, photo: c.post(
            "/v1.0/removebg",
            data={"image_file": (io.BytesIO(photo), "a.jpg"), "bg_image_file": (io.BytesIO(photo), "b.jpg")}
            | REMOVEBG_LAYOUT,
        ),
        remove_bgs_timeout,
    ),
    "rembg": (rembg_api, lambda c, photo: c.post("/api/remove", data=upload(photo, a="true", ae="3")), rembgs_timeout),
}


@pytest.fixture
def watchdog():
    """A hang fails the run (every thread's stack printed, the process ended) instead of holding CI for good."""
    faulthandler.dump_traceback_later(WATCHDOG_S, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def test_the_deadline_going_off_anywhere_in_a_request_never_hangs(make_app, small_photo, monkeypatch, watchdog):
    """Set off the deadline at every safe point of a request on each API, then at random instants, hundreds of times.

    Run under coverage (`pytest --cov`), this is where a signal-raised deadline deadlocked on coverage's lock.
    """
    # u2netp alone: the cascade model's runs go through the same checked wrapper, and four u2net passes per
    # rembg request (`a` asks for high), times every safe point, would take minutes
    client = make_app(ratelimit_enabled=False, cascade_model="none").test_client()
    deadlines: list[Deadline] = []
    durations = []
    for name, (module, send, timed_out) in REQUESTS.items():
        chosen: list[Deadline] = []

        def make(seconds: float, *, chosen=chosen) -> Deadline:
            deadlines.append(chosen[-1])
            return chosen[-1]

        monkeypatch.setattr(module, "Deadline", make)
        chosen.append(AtLook(float("inf")))  # counts the safe points of a whole request
        started = time.perf_counter()
        assert send(client, small_photo).status_code == 200, name
        durations.append(time.perf_counter() - started)
        points = chosen[-1].looks
        assert points >= 8, f"{name}: only {points} safe points"  # stages, model views, bands, solver iterations
        for n in range(points):
            chosen.append(AtLook(n))
            timed_out(send(client, small_photo))
            assert chosen[-1].looks == n + 1, f"{name}: went on after the deadline passed at look {n}"
        chosen.append(AtLook(points))
        assert send(client, small_photo).status_code == 200, name
    assert all(alarms == [((0.0, 0.0), signal.SIG_DFL)] * len(alarms) for alarms in (d.alarms for d in deadlines))

    rng = random.Random(23)
    outcomes = {200: 0, 504: 0}
    for run in range(WALL_CLOCK_RUNS):
        name = list(REQUESTS)[run % len(REQUESTS)]
        module, send, timed_out = REQUESTS[name]
        limit = rng.uniform(0, 1.2 * durations[run % len(REQUESTS)])
        monkeypatch.setattr(module, "Deadline", lambda seconds, limit=limit: Deadline(limit))
        response = send(client, small_photo)
        assert response.status_code in outcomes, (name, limit, response.get_data(as_text=True)[:300])
        if response.status_code == 504:
            timed_out(response)
        outcomes[response.status_code] += 1
    assert outcomes[200] and outcomes[504], outcomes


@pytest.mark.slow
def test_under_gunicorn_the_worker_answers_instead_of_being_killed(tmp_path, big_photo):
    node = AppServer({"PROCESSING_TIMEOUT_S": "0.5", "RATELIMIT_ENABLED": "false"}, tmp_path).start()
    try:
        started = time.perf_counter()
        r = requests.post(
            f"{node.url}/remove-background-preview", files={"file": big_photo}, data={"refine": "high"}, timeout=60
        )
        elapsed = time.perf_counter() - started
        assert r.status_code == 504 and r.json()["code"] == "processing_timeout", r.text
        # undisturbed, the whole request takes several times the deadline; a stage that has started ends first
        assert elapsed < 6, f"answered after {elapsed:.1f} s"
        time.sleep(2)
        after = requests.post(f"{node.url}/remove-background-preview", files={"file": b"not an image"}, timeout=10)
        assert after.status_code == 415
    finally:
        node.stop()
    log = node.log.read_text()
    assert log.count("Booting worker") == 1 and "WORKER TIMEOUT" not in log  # the same worker served both
