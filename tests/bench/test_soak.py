"""The soak's judgement: which 5xx and broken answers a killed worker explains (bench/soak/report.py, `attribute`)."""

from __future__ import annotations

from bench.soak.faults import Kill
from bench.soak.report import attribute
from bench.soak.traffic import BATCH, NATIVE, REMOVEBG, Outcome

KILL = Kill(at=100.0, done=100.01, pid=4242, held=["127.0.0.1:50000"])


def outcome(status: int, started: float, ended: float, **kw) -> Outcome:
    kw.setdefault("endpoint", NATIVE)
    kw.setdefault("json_error", True)
    return Outcome("case", started=started, ended=ended, status=status, **kw)


def test_nginx_502_around_the_kill_is_explained_once_per_held_request():
    first = outcome(502, 99.0, 100.005, code="bad_gateway", request_id="a" * 32)
    second = outcome(502, 99.5, 100.2, code="bad_gateway", request_id="b" * 32)
    explained, unexplained = attribute([first, second], [KILL], finished=set())
    assert explained == [(first, KILL)] and unexplained == [second]  # the worker held one request, not two


def test_a_502_seen_ending_just_before_the_conductor_read_the_clock_is_still_the_kills():
    early = outcome(502, 99.0, 100.005, code="bad_gateway", endpoint=REMOVEBG)  # remove.bg's shape: no request id
    assert attribute([early], [KILL], finished={"d" * 32})[0] == [(early, KILL)]


def test_502s_the_kill_cannot_explain():
    before = outcome(502, 90.0, 99.0, code="bad_gateway")
    after = outcome(502, 100.5, 101.0, code="bad_gateway")
    logged = outcome(502, 99.0, 100.5, code="bad_gateway", request_id="c" * 32)  # the app finished it
    not_nginx = outcome(502, 99.0, 100.5, code="upstream_error")
    timeout = outcome(504, 99.0, 100.5, code="gateway_timeout")
    explained, unexplained = attribute([before, after, logged, not_nginx, timeout], [KILL], finished={"c" * 32})
    assert explained == [] and len(unexplained) == 5


def test_a_batch_cut_off_while_streaming_is_the_kills_but_not_another_endpoints():
    batch = outcome(200, 99.0, 100.3, endpoint=BATCH, failure="cut off: ChunkedEncodingError", json_error=False)
    native = outcome(200, 99.0, 100.3, failure="cut off: ChunkedEncodingError", json_error=False)
    explained, unexplained = attribute([native, batch], [KILL], finished=set())
    assert explained == [(batch, KILL)] and unexplained == [native]


def test_a_batch_killed_before_its_first_byte_is_a_502_the_app_logged():
    batch = outcome(502, 99.0, 100.3, endpoint=BATCH, code="bad_gateway", request_id="e" * 32)
    native = outcome(502, 99.0, 100.3, code="bad_gateway", request_id="f" * 32)
    explained, unexplained = attribute([native, batch], [KILL], finished={"e" * 32, "f" * 32})
    assert explained == [(batch, KILL)] and unexplained == [native]


def test_a_kill_that_held_nothing_explains_nothing():
    idle = Kill(at=100.0, done=100.01, pid=4243, held=[])
    lost = outcome(502, 99.0, 100.5, code="bad_gateway")
    assert attribute([lost], [idle], finished=set()) == ([], [lost])
