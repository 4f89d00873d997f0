"""Fixtures for the release tests: a running pair of simulators of each flavor with a seeded history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from release_history import History, seed_history

from syncworld import make_world


@pytest.fixture(params=["cloud", "datacenter"])
def history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[History]:
    """Both simulators of the flavor, the history seeded, requests so far forgotten."""
    with make_world(tmp_path, flavor=request.param, prs=0) as world:
        seeded = seed_history(world)
        seeded.clear_requests()
        yield seeded
