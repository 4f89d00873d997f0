"""Fixtures for the client tests: a real TaskQueue in test mode, and a queue that records submissions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_helpers import RecordingQueue

from jirabucket.queue import TaskQueue, set_testing


@pytest.fixture(autouse=True)
def _queue_test_mode() -> Iterator[None]:
    """Retries are computed but not waited, so a failing call ends quickly."""
    set_testing(True)
    yield
    set_testing(False)


@pytest.fixture
def queue() -> Iterator[TaskQueue]:
    """A real queue shared by the clients of one test."""
    q = TaskQueue(workers=4)
    yield q
    q.close(timeout=10)


@pytest.fixture
def recorder() -> RecordingQueue:
    """A queue that records what clients submit and runs it synchronously."""
    return RecordingQueue()
