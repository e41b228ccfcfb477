"""The soak's view of processes: the RSS slope after warm-up, and the connections a process holds."""

from __future__ import annotations

import os
import random
import socket

import pytest

from bench.soak.processes import ProcessFigures, after_warm_up, held_connections, rss_slope

HOUR = 3600.0


def samples(mib_at, seconds: float = HOUR, every: float = 5.0) -> list[tuple[float, float]]:
    """(seconds, MiB) every `every` seconds over `seconds`."""
    return [(t * every, mib_at(t * every)) for t in range(int(seconds / every) + 1)]


def test_a_steady_leak_shows_as_its_rate():
    leak = samples(lambda t: 500 + 12 * t / HOUR)  # 12 MiB an hour from the start
    assert rss_slope(leak) == pytest.approx(12, rel=1e-6)


def test_a_high_water_mark_reached_in_the_warm_up_is_flat():
    # up 150 MiB in the first ten minutes, then flat with noise: what a long run of a well-behaved worker looks like
    rng = random.Random(1)
    plateau = samples(lambda t: 500 + min(t, 600) / 600 * 150 + rng.uniform(-2, 2))
    assert abs(rss_slope(plateau)) < 1
    # the same rise without the warm-up cut would read as a fast leak
    assert rss_slope(plateau, warm_up=0) > 50


def test_the_slope_is_per_hour_whatever_the_run():
    ten_minutes = samples(lambda t: 300 + 6 * t / HOUR, seconds=600)
    assert rss_slope(ten_minutes) == pytest.approx(6, rel=1e-6)


def test_a_late_step_counts_for_less_the_longer_the_run_goes_on_after_it():
    step = 30.0

    def one_step(seconds: float) -> float:
        return rss_slope(samples(lambda t: 600 + (step if t > seconds / 2 else 0), seconds=seconds))

    assert one_step(4 * HOUR) < one_step(HOUR) / 3


def test_the_warm_up_is_the_first_quarter_of_the_samples_time():
    kept = after_warm_up([(0.0, 1.0), (10.0, 2.0), (25.0, 3.0), (40.0, 4.0), (100.0, 5.0)])
    assert kept == [(25.0, 3.0), (40.0, 4.0), (100.0, 5.0)]


def test_no_slope_from_too_few_samples():
    assert rss_slope([]) is None
    assert rss_slope([(3.0, 100.0)]) is None
    assert rss_slope([(3.0, 100.0), (3.0, 101.0)]) is None
    # the first sample is the warm-up; the two after it rise 1 MiB in 5 s
    assert ProcessFigures("gunicorn worker", 1, timeline=[(0.0, 50.0), (5.0, 10.0), (10.0, 11.0)]).rss_slope() == 720


def test_held_connections_are_the_accepted_ones_on_the_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert held_connections(os.getpid(), port) == []  # listening is not holding
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            with accepted:
                held = held_connections(os.getpid(), port)
                assert held == [f"127.0.0.1:{client.getsockname()[1]}"]  # the server's side, named by the peer
        accepted.close()
    assert held_connections(2**22 + 7, port) == []  # a process that is not there holds nothing
