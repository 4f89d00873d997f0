"""Shared fixtures of the queue tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jirabucket.queue import ManualClock, TaskQueue, set_testing


@pytest.fixture(autouse=True)
def _testing_off() -> Iterator[None]:
    set_testing(False)
    yield
    set_testing(False)


@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand; queues built on it wake when it moves."""
    return ManualClock()


@pytest.fixture
def queues() -> Iterator[list[TaskQueue]]:
    """Queues appended here are closed (briefly) after the test."""
    made: list[TaskQueue] = []
    yield made
    for q in made:
        q.close(timeout=2.0)
