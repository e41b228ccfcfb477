"""PROCESSING_TIMEOUT_S: a request past its deadline gets a JSON 504, the worker lives on, nothing leaks."""

from __future__ import annotations

import io
import signal
import threading
import time

import pytest
import requests
from PIL import Image

from bgremover.errors import ProcessingTimeout
from bgremover.processing import parse_options
from bgremover.web.deadline import deadline
from tests.api.test_errors import assert_error
from tests.conftest import encode_image
from tests.services import AppServer


@pytest.fixture(scope="module")
def big_photo(photo_bytes) -> bytes:
    """The car photo at the largest legal size: ~7 s with refine=high on this 2-core box."""
    return encode_image(Image.open(io.BytesIO(photo_bytes)).convert("RGB").resize((4096, 4096)), "JPEG", quality=90)


def upload(data: bytes, **fields):
    return {"file": (io.BytesIO(data), "big.jpg"), **fields}


def test_slow_request_answers_504_json_and_the_next_one_works(make_app, big_photo, photo_bytes):
    client = make_app(processing_timeout_s=0.3, ratelimit_enabled=False).test_client()
    before = signal.getsignal(signal.SIGALRM)
    started = time.perf_counter()
    r = client.post("/remove-background-preview", data=upload(big_photo, refine="high"))
    elapsed = time.perf_counter() - started
    body = assert_error(r, 504, "processing_timeout")
    assert "0.3 s" in body["details"] and "refine=standard" in body["solution"]
    assert elapsed < 4, f"the deadline fired after {elapsed:.1f} s"  # the full request takes ~7 s
    assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    small = make_app(processing_timeout_s=30, ratelimit_enabled=False).test_client()
    assert small.post("/remove-background-preview", data=upload(photo_bytes)).status_code == 200


def test_engine_starts_no_stage_after_the_deadline(engine, photo_bytes):
    with pytest.raises(ProcessingTimeout) as err:
        engine.process(photo_bytes, parse_options({}), deadline=time.monotonic() - 1)
    assert err.value.status == 504 and "decode" in err.value.details
    assert engine.process(photo_bytes, parse_options({}), deadline=time.monotonic() + 60).width > 0


def test_off_the_main_thread_only_the_engine_checks_apply(engine, big_photo):
    """Signals reach only the main thread: elsewhere (a threaded dev server) the stage checks stop it."""
    outcome = {}

    def work():
        with deadline(0.2) as expires:
            outcome["handler"] = signal.getsignal(signal.SIGALRM)
            try:
                engine.process(big_photo, parse_options({"refine": "high"}), deadline=expires)
            except ProcessingTimeout as exc:
                outcome["error"] = exc

    before = signal.getsignal(signal.SIGALRM)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert isinstance(outcome.get("error"), ProcessingTimeout)
    assert outcome["handler"] is before  # no handler was installed from the thread


@pytest.mark.slow
def test_under_gunicorn_the_worker_answers_instead_of_being_killed(tmp_path, big_photo):
    node = AppServer({"PROCESSING_TIMEOUT_S": "1.5", "RATELIMIT_ENABLED": "false"}, tmp_path).start()
    try:
        started = time.perf_counter()
        r = requests.post(
            f"{node.url}/remove-background-preview", files={"file": big_photo}, data={"refine": "high"}, timeout=60
        )
        elapsed = time.perf_counter() - started
        assert r.status_code == 504 and r.json()["code"] == "processing_timeout", r.text
        assert elapsed < 6, f"answered after {elapsed:.1f} s"  # undisturbed, the whole request takes ~7 s
        time.sleep(2)  # past where a leftover alarm would fire
        after = requests.post(f"{node.url}/remove-background-preview", files={"file": b"not an image"}, timeout=10)
        assert after.status_code == 415
    finally:
        node.stop()
    log = node.log.read_text()
    assert log.count("Booting worker") == 1 and "WORKER TIMEOUT" not in log  # the same worker served both
