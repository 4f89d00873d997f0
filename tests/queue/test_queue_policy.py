"""Retry classification, backoff and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from jirabucket.errors import (
    AuthError,
    ConfigError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
    error_for_status,
)
from jirabucket.queue import RetryPolicy, retry_after_from_headers

# status -> (outcome when idempotent, outcome when not)
TABLE = {
    400: ("fail", "fail"), 401: ("fail", "fail"), 403: ("fail", "fail"),
    404: ("fail", "fail"), 409: ("fail", "fail"), 410: ("fail", "fail"),
    422: ("fail", "fail"), 429: ("retry", "retry"), 500: ("retry", "fail"),
    502: ("retry", "retry"), 503: ("retry", "retry"), 504: ("retry", "retry"),
}


@pytest.mark.parametrize("status", sorted(TABLE))
@pytest.mark.parametrize("idempotent", [True, False])
def test_classification_table(status: int, idempotent: bool) -> None:
    exc = error_for_status(status)(f"HTTP {status}", status=status)
    expected = TABLE[status][0 if idempotent else 1]
    assert RetryPolicy().classify(exc, idempotent=idempotent) == expected


def test_error_classes_match_the_statuses() -> None:
    assert error_for_status(401) is AuthError and error_for_status(410) is NotFound
    assert error_for_status(422) is PermanentError and error_for_status(429) is RateLimited


def test_network_failure_retried_only_when_idempotent() -> None:
    reset = TransientError("connection reset", status=None)
    assert RetryPolicy().classify(reset, idempotent=True) == "retry"
    assert RetryPolicy().classify(reset, idempotent=False) == "unknown"


@pytest.mark.parametrize(
    "exc",
    [ConnectionError("reset"), ConnectionResetError(104, "Connection reset by peer"),
     ConnectionRefusedError(111, "Connection refused"), BrokenPipeError(32, "Broken pipe"),
     TimeoutError("timed out")],
)
def test_a_bare_handlers_network_failure_is_treated_like_the_clients(exc: BaseException) -> None:
    assert RetryPolicy().classify(exc, idempotent=True) == "retry"
    assert RetryPolicy().classify(exc, idempotent=False) == "unknown"  # it may have happened


def test_more_network_exception_types_can_be_declared() -> None:
    class LibraryTimeout(OSError):
        """Like ``requests.Timeout``: an OSError, but neither builtin."""

    assert RetryPolicy().classify(LibraryTimeout(), idempotent=True) == "fail"
    policy = RetryPolicy(retry_exceptions=(ConnectionError, TimeoutError, LibraryTimeout))
    assert policy.classify(LibraryTimeout(), idempotent=True) == "retry"


@pytest.mark.parametrize(
    "exc",
    [OutcomeUnknown("maybe"), ConfigError("bad"), ValueError("bug"), KeyError("x"),
     FileNotFoundError("an OSError, but not a network failure")],
)
def test_everything_else_fails(exc: BaseException) -> None:
    assert RetryPolicy().classify(exc, idempotent=True) == "fail"


def test_500_not_retried_when_disabled() -> None:
    policy = RetryPolicy(retry_500_if_idempotent=False)
    assert policy.classify(TransientError("x", status=500), idempotent=True) == "fail"


def test_decide_retries_with_the_backoff_within_attempts_and_deadline() -> None:
    policy = RetryPolicy(max_attempts=3, deadline=10.0, base_delay=1.0, max_delay=1.0)
    busy = TransientError("503", status=503)
    decision = policy.decide(busy, idempotent=True, attempts=1, elapsed=0.0, rng=random.Random(0))
    assert decision.outcome == "retry" and 0.0 <= decision.wait <= 1.0 and not decision.hold_key
    last = policy.decide(busy, idempotent=True, attempts=3, elapsed=0.0, rng=random.Random(0))
    assert last.outcome == "fail"  # the third attempt was the last one
    late = policy.decide(busy, idempotent=True, attempts=1, elapsed=9.5, rng=random.Random(0))
    assert late.wait > 0.5 and late.outcome == "fail"  # the retry would start past the deadline


def test_decide_uses_and_caps_the_servers_wait_and_holds_the_key() -> None:
    policy = RetryPolicy(max_retry_after=60.0, deadline=1000.0)
    rng = random.Random(0)
    limited = policy.decide(RateLimited("429", status=429, retry_after=30.0), idempotent=False,
                            attempts=1, elapsed=0.0, rng=rng)
    assert (limited.outcome, limited.wait, limited.hold_key) == ("retry", 30.0, True)
    long = policy.decide(TransientError("503", status=503, retry_after=500.0), idempotent=True,
                         attempts=1, elapsed=0.0, rng=rng)
    assert (long.outcome, long.wait, long.hold_key) == ("retry", 60.0, True)
    bare = policy.decide(RateLimited("429", status=429), idempotent=True, attempts=1, elapsed=0.0, rng=rng)
    assert bare.hold_key and bare.wait <= policy.base_delay  # no header: the backoff, for the whole key


def test_decide_never_holds_a_key_for_a_4xx_that_will_not_succeed() -> None:
    gone = NotFound("gone", status=404, retry_after=30.0)  # e.g. X-RateLimit-Reset on a 404
    decision = RetryPolicy().decide(gone, idempotent=True, attempts=1, elapsed=0.0, rng=random.Random(0))
    assert (decision.outcome, decision.hold_key) == ("fail", False)


def test_delay_is_full_jitter_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(5.0, 2.0**attempt)
        values = [policy.delay(attempt, rng=rng) for _ in range(50)]
        assert all(0.0 <= v <= ceiling for v in values)
    assert max(policy.delay(40, rng=rng) for _ in range(200)) > 4.0  # reaches toward the cap
    assert policy.delay(10_000, rng=rng) <= 5.0  # no overflow


def test_delay_is_deterministic_with_a_seed() -> None:
    policy = RetryPolicy()
    a = [policy.delay(n, rng=random.Random(7)) for n in range(5)]
    b = [policy.delay(n, rng=random.Random(7)) for n in range(5)]
    assert a == b


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(base_delay=-1)


NOW = 1_800_000_000.0


def test_retry_after_seconds_case_insensitive() -> None:
    assert retry_after_from_headers({"retry-after": "30"}, now=NOW) == 30.0
    assert retry_after_from_headers({"RETRY-AFTER": " 2.5 "}, now=NOW) == 2.5


def test_retry_after_http_date() -> None:
    when = datetime.fromtimestamp(NOW + 120, tz=UTC)
    header = format_datetime(when, usegmt=True)  # e.g. "Fri, 15 Jan 2027 08:00:00 GMT"
    assert retry_after_from_headers({"Retry-After": header}, now=NOW) == pytest.approx(120)


def test_retry_after_in_the_past_is_zero() -> None:
    when = format_datetime(datetime.fromtimestamp(NOW - 50, tz=UTC), usegmt=True)
    assert retry_after_from_headers({"Retry-After": when}, now=NOW) == 0.0
    assert retry_after_from_headers({"Retry-After": "-5"}, now=NOW) == 0.0


def test_beta_retry_after_and_ratelimit_reset() -> None:
    assert retry_after_from_headers({"Beta-Retry-After": "7"}, now=NOW) == 7.0
    reset = datetime.fromtimestamp(NOW + 45, tz=UTC).isoformat().replace("+00:00", "Z")
    assert retry_after_from_headers({"X-RateLimit-Reset": reset}, now=NOW) == pytest.approx(45)
    assert retry_after_from_headers({"X-RateLimit-Reset": str(NOW + 9)}, now=NOW) == 9.0


def test_retry_after_wins_over_the_others() -> None:
    headers = {"Beta-Retry-After": "7", "Retry-After": "3", "X-RateLimit-Reset": "2000"}
    assert retry_after_from_headers(headers, now=NOW) == 3.0


def test_absent_or_garbage_is_none() -> None:
    assert retry_after_from_headers({}, now=NOW) is None
    assert retry_after_from_headers({"Retry-After": "soon"}, now=NOW) is None
    assert retry_after_from_headers({"X-RateLimit-Reset": "tomorrow"}, now=NOW) is None
    assert retry_after_from_headers({"Content-Type": "text/plain"}) is None


def test_rate_limit_delay_grows_with_equal_jitter_up_to_its_cap() -> None:
    policy = RetryPolicy(rate_limit_base_delay=15.0, rate_limit_max_delay=300.0)
    rng = random.Random(3)
    for step in range(12):
        ceiling = min(300.0, 15.0 * 2**step)
        assert all(ceiling / 2 <= policy.rate_limit_delay(step, rng=rng) <= ceiling for _ in range(50))
    assert policy.rate_limit_delay(10_000, rng=rng) <= 300.0  # no overflow


def test_a_429_is_never_exhausted_by_attempts_or_deadline() -> None:
    policy = RetryPolicy(max_attempts=2, deadline=10.0)
    limited = RateLimited("429", status=429)
    decision = policy.decide(limited, idempotent=False, attempts=50, elapsed=5000.0, rng=random.Random(0))
    assert decision.outcome == "retry"  # rate_limit_max_wait governs, per host
    busy = TransientError("503", status=503)
    assert policy.decide(busy, idempotent=True, attempts=2, elapsed=0.0, rng=random.Random(0)).outcome == "fail"


def test_rate_limit_defaults_wait_at_least_an_hour() -> None:
    policy = RetryPolicy()
    assert policy.rate_limit_max_wait >= 3600.0
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(rate_limit_max_wait=-1.0)
