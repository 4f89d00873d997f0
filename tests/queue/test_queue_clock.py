"""The manual clock tests move by hand, and how it wakes the queues that use it."""

from __future__ import annotations

import pytest

from jirabucket.queue import ManualClock


def test_manual_clock_moves_only_forward_and_tells_its_listeners() -> None:
    clock = ManualClock(start=5.0)
    seen: list[float] = []
    unsubscribe = clock.subscribe(lambda: seen.append(clock()))
    clock.advance(1.5)
    assert clock() == 6.5 and seen == [6.5]
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1.0)
    unsubscribe()
    clock.advance(1.0)
    assert clock() == 7.5 and seen == [6.5]
