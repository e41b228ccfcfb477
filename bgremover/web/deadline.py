"""A per-request processing deadline that ends a sync worker's request with a typed error, not a kill."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bgremover.errors import ProcessingTimeout


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Yield the time.monotonic() instant `seconds` from now, for the engine's checks between stages.

    In the main thread (gunicorn's sync workers, the test client) a SIGALRM at that instant also raises
    ProcessingTimeout in whatever Python code is running then. A C call (a libjpeg scan, a model run)
    is not interrupted: the error is raised when it returns to Python.
    """
    expires = time.monotonic() + seconds
    if threading.current_thread() is not threading.main_thread():
        yield expires  # signals reach only the main thread: the engine's checks alone then
        return

    def expire(signum: int, frame: object) -> None:
        raise ProcessingTimeout(details=f"Stopped after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield expires
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # even if the alarm went off on the line above, the old handler comes back
            signal.signal(signal.SIGALRM, previous)
