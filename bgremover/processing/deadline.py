"""A cooperative processing deadline: an instant that the engine looks at in safe points of its own code.

No signal and no other thread ever raises into running code: a stage, a band of rows or a model view
that has started runs to its end, and the next safe point raises ProcessingTimeout. So a deadline
cannot go off while a lock is held (logging's, a Redis pool's, coverage's). What no safe point can
cut short (one model run, one libjpeg decode, one encode) is bounded by the server's own hard
timeout (gunicorn's `timeout`), which kills the worker instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bgremover.errors import ProcessingTimeout


class Deadline:
    """An instant (time.monotonic()) after which processing stops at the next safe point."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def passed(self) -> bool:
        """True once the instant has come."""
        return time.monotonic() >= self.expires


@dataclass
class _Running:
    deadline: Deadline
    stage: str = "start"


_current: ContextVar[_Running | None] = ContextVar("bgremover_deadline", default=None)


@contextmanager
def running(deadline: Deadline | None) -> Iterator[None]:
    """Make `deadline` the one that check() looks at, in this thread (or task) only, until the block ends."""
    token = _current.set(None if deadline is None else _Running(deadline))
    try:
        yield
    finally:
        _current.reset(token)


def entering(stage: str) -> None:
    """A safe point at the start of a stage, which later checks name in their error."""
    state = _current.get()
    if state is not None:
        state.stage = stage
    check()


def check() -> None:
    """A safe point: ProcessingTimeout if the running deadline has passed; nothing without one.

    Call it only from the engine's own code between units of work (never from a signal handler or
    another thread), so that nothing is left half done but the request itself.
    """
    state = _current.get()
    if state is not None and state.deadline.passed():
        raise ProcessingTimeout(details=f"Stopped after {state.deadline.seconds:g} s, in the {state.stage} stage")
