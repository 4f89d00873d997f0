"""Helpers shared by the queue tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable

_POLL = 0.002  # how often wait_until looks (it returns as soon as the condition holds)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(_POLL)
