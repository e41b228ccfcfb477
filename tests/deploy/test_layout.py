"""The default layout under real gunicorn: one gthread worker whose threads share one copy of both models."""

from __future__ import annotations

import io
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image

from tests.conftest import DATA, encode_image
from tests.services import AppServer, wait_for

pytestmark = pytest.mark.slow


def photos() -> list[bytes]:
    """Four real photos, two of them ones u2netp doubts (so the cascade runs), at a modest size."""
    chosen = [DATA / "rembg-fixtures" / "fixtures" / "car-1.jpg"]
    chosen += [DATA / "alphamatting-train-lowres" / "images" / f"GT{n}.png" for n in ("27", "10")]
    chosen += sorted((DATA / "duts-te-150" / "images").iterdir())[:1]
    return [encode_image(Image.open(p).convert("RGB").resize((480, 360)), "JPEG") for p in chosen]


def post(url: str, data: bytes, **fields: str) -> requests.Response:
    return requests.post(f"{url}/remove-background", files={"file": ("p.jpg", data)}, data=fields, timeout=120)


def workers(master: int) -> list[int]:
    """The gunicorn master's worker processes."""
    return [int(pid) for pid in open(f"/proc/{master}/task/{master}/children").read().split()]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    server = AppServer({"RATELIMIT_ENABLED": "false"}, tmp_path_factory.mktemp("layout")).start(timeout=180)
    yield server
    server.stop()


def test_one_worker_holds_both_models_once_and_health_names_them(node):
    assert len(workers(node.proc.pid)) == 1
    body = requests.get(f"{node.url}/health", timeout=10).json()
    model = body["checks"]["model"]
    assert model["loaded"] == ["u2netp", "u2net"]
    assert set(model["inference"]) == {"u2netp", "u2net"}
    assert all(set(v) == {"backend", "precision", "threads"} for v in model["inference"].values())


def test_concurrent_requests_share_the_models_and_all_succeed(node):
    batch = photos() * 2
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda data: post(node.url, data), batch))
    assert [r.status_code for r in answers] == [200] * len(batch)
    certainty = [float(r.headers["X-Cutout-Certainty"]) for r in answers]
    assert certainty[: len(batch) // 2] == certainty[len(batch) // 2 :]  # the same photo, the same answer
    text = requests.get(f"{node.url}/metrics", timeout=10).text
    assert 'bgremover_model_passes_total{model="u2net"}' in text  # the doubted photos went to the cascade


def test_a_worker_killed_under_load_is_replaced_and_serves_again(node):
    data = photos()[1]
    (before,) = workers(node.proc.pid)
    with ThreadPoolExecutor(4) as pool:
        running = [pool.submit(post, node.url, data) for _ in range(4)]
        time.sleep(0.5)
        os.kill(before, signal.SIGKILL)
        outcomes = []
        for future in running:
            try:
                outcomes.append(future.result().status_code)
            except requests.RequestException:
                outcomes.append("lost")  # in flight on the killed worker
    assert set(outcomes) <= {200, 502, "lost"}
    wait_for(lambda: workers(node.proc.pid) not in ([], [before]), 60, "a new worker")
    wait_for(lambda: requests.get(f"{node.url}/health/ready", timeout=10).ok, 120, "the new worker ready")
    assert post(node.url, data).status_code == 200


def test_the_deadline_answers_from_a_thread(tmp_path):
    server = AppServer({"RATELIMIT_ENABLED": "false", "PROCESSING_TIMEOUT_S": "0.3"}, tmp_path).start(timeout=180)
    try:
        big = encode_image(Image.open(io.BytesIO(photos()[1])).resize((3000, 2250)), "JPEG")
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: post(server.url, big, refine="high"), range(3)))
        assert [r.status_code for r in answers] == [504] * 3
        assert {r.json()["code"] for r in answers} == {"processing_timeout"}
        assert requests.get(f"{server.url}/health/live", timeout=10).ok  # the worker answered; nothing was killed
    finally:
        server.stop()
