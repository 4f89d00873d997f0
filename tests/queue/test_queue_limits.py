"""Per-key limits as data, and the token bucket, with plain numbers for the clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jirabucket.queue import KeyLimit
from jirabucket.queue.limits import TokenBucket


def test_key_limit_rejects_values_that_would_stall_a_key() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        KeyLimit(concurrency=0)
    with pytest.raises(ValueError, match="rate"):
        KeyLimit(rate=0.0)
    with pytest.raises(ValueError, match="burst"):
        KeyLimit(burst=0)


def test_bucket_allows_its_burst_then_one_token_per_interval() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.ready_at(0.0) == 0.5
    assert not bucket.take(0.4) and bucket.take(0.5)
    assert bucket.ready_at(100.0) == 100.0 and [bucket.take(100.0) for _ in range(4)] == [True] * 3 + [False]


@settings(max_examples=500, deadline=None)
@given(rate=st.floats(1e-3, 1e3), burst=st.integers(1, 5), start=st.floats(0.0, 1e7),
       steps=st.lists(st.floats(0.0, 10.0), max_size=20))
def test_the_token_promised_by_ready_at_is_there_then(
    rate: float, burst: int, start: float, steps: list[float]
) -> None:
    # A wake-up at ready_at() must find the token, or a scheduler would look again at the
    # same instant for ever (float rounding once made that happen).
    bucket = TokenBucket(rate=rate, burst=burst, now=start)
    now = start
    for step in steps:
        now += step
        while bucket.take(now):
            pass
        ready = bucket.ready_at(now)
        assert ready > now
        assert bucket.take(ready)
        now = ready
