"""The soak's report: nginx's and the app's logs read, the memory section with its slope and samples, and the
verdict over a whole run's observations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.soak.faults import Kill
from bench.soak.limits import PROBE_LIMIT, LimitCheck
from bench.soak.processes import ProcessFigures
from bench.soak.report import Observed, app_request_ids, build, memory_lines, nginx_saw
from bench.soak.traffic import NATIVE, Outcome

HOUR = 3600.0


def figures(role: str, pid: int, timeline: list[tuple[float, float]]) -> ProcessFigures:
    rss = [m for _, m in timeline]
    return ProcessFigures(
        role, pid, rss[0], rss[-1], max(rss), 10, 12, timeline[0][0], timeline[-1][0], timeline=timeline
    )


def test_the_app_log_gives_the_request_ids_of_its_json_lines(tmp_path: Path):
    log = tmp_path / "app.log"
    log.write_text(
        json.dumps({"request_id": "a" * 32, "status": 200})
        + "\nnot json at all\n"
        + json.dumps({"message": "limiter: storage down"})  # about no request
        + "\n"
        + json.dumps({"request_id": "", "status": 500})
        + "\n"
    )
    assert app_request_ids(log) == {"a" * 32}


def test_nginx_saw_broken_upstreams_502s_and_retries(tmp_path: Path):
    errors = tmp_path / "error.log"
    errors.write_text(
        "upstream prematurely closed connection while reading response header\n"
        "recv() failed (104: Connection reset by peer) while reading\n"
        "an unrelated warning\n"
    )
    access = tmp_path / "access.log"
    entries = [
        {"status": 502, "request_id": "x" * 32, "upstream": "127.0.0.1:9000"},
        {"status": 502, "request_id": "y" * 32, "upstream": "127.0.0.1:9000"},
        {"status": 200, "request_id": "z" * 32, "upstream": "127.0.0.1:9000, 127.0.0.1:9000"},
        {"status": 415, "request_id": "w" * 32, "upstream": "127.0.0.1:9000, 127.0.0.1:9000"},
        {"status": 200, "request_id": "v" * 32, "upstream": "127.0.0.1:9000"},
    ]
    access.write_text("\n".join(json.dumps(e) for e in entries) + "\nnot json\n")
    broken, bad_gateway, logged, retried = nginx_saw(errors, access, app_ids={"y" * 32, "v" * 32})
    assert broken == 2 and bad_gateway == ["x" * 32, "y" * 32] and logged == 1
    assert retried == {200: 1, 415: 1}


def test_the_memory_section_gives_the_slope_after_warm_up_and_every_sample():
    samples = [(t, 500 + 20 * t / HOUR) for t in range(0, 3601, 300)]  # 20 MiB an hour
    whole = figures("gunicorn worker", 11, samples)
    killed = figures("gunicorn worker", 12, samples[:5])
    late = figures("gunicorn worker", 13, samples[6:])
    lines = memory_lines([whole, killed, late], elapsed=HOUR, killed={12})
    text = "\n".join(lines)
    assert "- gunicorn worker 11: 500 → 505 → 510 → 515 → 520; +20.0 MiB/h after warm-up" in lines
    assert " 12:" not in text and " 13:" not in text  # only the processes that lived through the run
    assert "- gunicorn worker 11: 0: 500.0, 300: 501.7, " in text and text.count(", ") >= len(samples) - 1
    assert "3600: 520.0" in text


def test_a_single_sample_has_no_slope():
    lines = memory_lines([figures("nginx master", 5, [(0.0, 9.0), (0.0, 9.0)])], elapsed=5.0, killed=set())
    assert "- nginx master 5: 9 → 9 → 9 → 9 → 9; too few samples for a slope" in lines


def observed(tmp_path: Path, kills: list[Kill], outcomes: list[Outcome]) -> Observed:
    for name in ("app.log", "error.log", "access.log"):
        (tmp_path / name).write_text("")
    limits = LimitCheck(
        before_remaining=list(range(PROBE_LIMIT - 1, -1, -1)),
        before_429=5,
        redis_down_at=100.0,
        redis_up_at=106.0,
        counting_again_at=120.0,
        after_remaining=[29, 28, 27],
        after_redis_counts=[1, 2, 3],
        after_429=1,
    )
    worker = figures("gunicorn worker", 21, [(float(t), 500.0 + t / 100) for t in range(0, 301, 5)])
    return Observed(
        concurrency=8,
        workers=2,
        layout={"threads": 4, "models": ["u2netp"], "inference": {"backend": "openvino"}},
        outcomes=outcomes,
        kills=kills,
        limits=limits,
        processes=[worker],
        elapsed=300.0,
        hung=0,
        conductor_failure="",
        load_start=(1.0, 1.0, 1.0),
        load_end=(2.0, 2.0, 2.0),
        app_log=tmp_path / "app.log",
        nginx_error_log=tmp_path / "error.log",
        nginx_access_log=tmp_path / "access.log",
    )


@pytest.fixture
def two_kills() -> list[Kill]:
    return [Kill(45.0, 45.01, 31, ["127.0.0.1:5000"], 2.0), Kill(225.0, 225.01, 32, [], 3.0)]


def test_a_clean_run_passes_and_its_json_holds_the_samples_and_slope(tmp_path: Path, two_kills):
    ok = Outcome("native photo", NATIVE, 1.0, 2.0, 200, True)
    result = build(observed(tmp_path, two_kills, [ok] * 10))
    assert result["failures"] == [] and result["text"].endswith("**Result**: pass\n")
    (worker,) = json.loads(json.dumps(result))["processes"]
    assert worker["rss_slope_mib_per_hour"] == pytest.approx(36.0)  # 0.01 MiB a second
    assert len(worker["timeline"]) == 61 and worker["timeline"][0] == [0.0, 500.0]
    assert "+36.0 MiB/h after warm-up" in result["text"]


def test_what_fails_a_run(tmp_path: Path, two_kills):
    wrong = Outcome("native photo", NATIVE, 1.0, 2.0, 415, False, expected=False)
    gateway = Outcome("native photo", NATIVE, 100.0, 101.0, 502, True, code="bad_gateway")  # no kill near it
    result = build(observed(tmp_path, two_kills[:1], [wrong, gateway]))
    failures = "; ".join(result["failures"])
    assert "1 5xx or broken answers not explained by a killed worker" in failures
    assert "1 answers outside their case's statuses" in failures
    assert "1 workers killed, not 2" in failures
    assert result["text"].rstrip().endswith(failures)
