"""The cooperative deadline alone: checks raise only at safe points, only while a deadline runs, only in its thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from bgremover.errors import ProcessingTimeout
from bgremover.processing import compose, deadline, refine
from bgremover.processing.deadline import Deadline


class AfterLooks(Deadline):
    """Passes once it has been looked at `n` times; counts the looks."""

    def __init__(self, n: int) -> None:
        super().__init__(3600)
        self.n, self.looks = n, 0

    def passed(self) -> bool:
        self.looks += 1
        return self.looks > self.n


def test_without_a_running_deadline_a_check_does_nothing():
    deadline.check()
    deadline.entering("decode")


def test_a_passed_deadline_stops_at_the_next_safe_point_naming_the_budget_and_the_stage():
    with deadline.running(Deadline(60)):
        deadline.entering("refine")  # not yet
    passed = Deadline(0.25)
    passed.expires -= 1  # as if a second had gone by
    with deadline.running(passed), pytest.raises(ProcessingTimeout) as caught:
        deadline.entering("compose")
    assert caught.value.status == 504 and caught.value.details == "Stopped after 0.25 s, in the compose stage"


def test_the_deadline_ends_with_its_block_and_stays_in_its_thread():
    seen = []
    with deadline.running(Deadline(0)):
        worker = threading.Thread(target=lambda: seen.append(deadline.check()))
        worker.start()
        worker.join()
        with pytest.raises(ProcessingTimeout):
            deadline.check()
    deadline.check()
    assert seen == [None]  # another thread runs without this request's deadline


@pytest.mark.parametrize(
    "work",
    [
        lambda rgb, alpha: compose.compose(rgb, alpha, None),
        lambda rgb, alpha: compose.compose(rgb, alpha, (0, 255, 0, 255)),
        lambda rgb, alpha: compose.compose_over(rgb, alpha, rgb),
        lambda rgb, alpha: compose.over_white(rgb, (alpha * 255).astype(np.uint8)),
        lambda rgb, alpha: refine.refine(rgb, alpha[::8, ::8].copy(), "standard"),
    ],
)
def test_banded_loops_are_safe_points(work):
    """On a 1200-row image each loop looks more than once: the deadline can stop it between bands."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (1200, 300, 3), dtype=np.uint8)
    alpha = np.clip(rng.normal(0.5, 0.4, (1200, 300)), 0, 1).astype(np.float32)
    counting = AfterLooks(10**6)
    with deadline.running(counting):
        work(rgb, alpha)
    assert counting.looks >= 4
    stopping = AfterLooks(2)
    with deadline.running(stopping), pytest.raises(ProcessingTimeout):
        work(rgb, alpha)
    assert stopping.looks == 3
