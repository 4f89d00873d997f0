"""Settings for the whole suite."""

from __future__ import annotations

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

# Property tests check behaviour, not speed: on a shared two-core CI machine a first draw that
# builds Hypothesis' Unicode tables took 1.2 s (a "too slow" health check failure), and a busy
# core can push one example past the default 200 ms deadline. Speed is measured in bench/.
settings.register_profile("jirabucket", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("jirabucket")

# The suite's Python processes (the workers, and some fifty `python -m jirabucket` children)
# share compiled modules through __pycache__. Where the environment forbids writing it
# (PYTHONDONTWRITEBYTECODE=1, common in container images and set on this project's machines), every process
# compiled jirabucket and the test modules again: 86 s of CPU per run instead of 66 s on the
# two-core CI machine. Set here, before the workers start, so that they and their children inherit it.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# The files that take longest start first. Workers take whole files (`--dist loadfile`), and a
# long file handed out last keeps one core busy while the other has nothing left: seconds of
# wall, serial, at -n 0 on the CI machine. Only the order changes; a stale list costs time,
# never correctness.
_LONGEST_FIRST = (
    "cli/test_commands.py",  # 16 s: sync processes killed, interrupted, racing
    "sync/test_sync_service.py",  # 14 s
    "webhooks/test_webhooks_process.py",  # 12 s: serve processes and signals
    "sync/test_concurrent_writers.py",  # 5 s
    "cli/test_failure_modes.py",  # 5 s
    "testing/test_faults.py",  # 5 s
    "webhooks/test_webhooks_deliveries.py",  # 4 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the items of the longest files first, each file's items kept together and in order."""
    rank = {name: place for place, name in enumerate(_LONGEST_FIRST)}

    def key(item: pytest.Item) -> int:
        relative = item.nodeid.split("::", 1)[0].removeprefix("tests/")
        return rank.get(relative, len(rank))

    items.sort(key=key)  # stable: the rest keeps pytest's order
