"""Bitbucket Cloud's rolling hourly request budget: 429 without Retry-After, headers for access tokens, fast clocks."""

from __future__ import annotations

import pytest
import requests

from jirabucket.testing import BitbucketCloudSimulator, HourlyLimit, ManualClock, ScaledClock
from jirabucket.testing.ratelimit import RollingBudget


def test_rolling_budget_counts_per_key_and_frees_requests_as_they_age() -> None:
    budget = RollingBudget(HourlyLimit(requests=3, window_seconds=100))
    assert [budget.admit("a", t).allowed for t in (0, 10, 20, 30)] == [True, True, True, False]
    assert budget.admit("b", 30).remaining == 2  # another credential has its own budget
    assert budget.seconds_until_free("a", 30) == 70
    assert budget.admit("a", 99.9).allowed is False
    first = budget.admit("a", 100)  # the request at t=0 has left the window
    assert (first.allowed, first.remaining) == (True, 0)
    assert budget.admit("a", 105).allowed is False
    assert budget.seconds_until_free("a", 105) == 5
    assert budget.seconds_until_free("nobody", 0) == 0


def test_near_limit_is_under_a_fifth_left() -> None:
    budget = RollingBudget(HourlyLimit(requests=10, window_seconds=60))
    remaining = [(a.remaining, a.near_limit) for a in (budget.admit("k", 0) for _ in range(10))]
    assert remaining[7] == (2, False) and remaining[8] == (1, True)


@pytest.mark.parametrize("bad", [{"requests": 0}, {"window_seconds": 0}])
def test_a_limit_needs_requests_and_a_window(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        HourlyLimit(**bad)


def test_clocks() -> None:
    real = [100.0]
    scaled = ScaledClock(3600, source=lambda: real[0])
    real[0] += 0.5
    assert scaled() == 1800.0 and scaled.real_seconds(3600) == 1.0
    manual = ManualClock()
    manual.advance(5)
    assert manual() == 5
    with pytest.raises(ValueError):
        manual.advance(-1)
    with pytest.raises(ValueError):
        ScaledClock(0)


def _get(sim: BitbucketCloudSimulator, path: str, *, basic: tuple[str, str] | None = None) -> requests.Response:
    headers = {} if basic else {"Authorization": f"Bearer {sim.token}"}
    return requests.get(f"{sim.url}/2.0{path}", headers=headers, auth=basic, timeout=10)


def test_budget_answers_429_without_retry_after_until_the_window_rolls_on() -> None:
    clock = ManualClock()
    with BitbucketCloudSimulator(clock=clock) as sim:
        sim.add_repository("acme/api")
        sim.set_hourly_limit(HourlyLimit(requests=5))
        answers = [_get(sim, "/repositories/acme/api/pullrequests") for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
        refused = answers[-1]
        assert "Retry-After" not in refused.headers
        assert refused.headers["Content-Type"].startswith("text/plain")
        assert refused.text == "Rate limit for this resource has been exceeded"
        assert _get(sim, "/user").status_code == 200  # outside /2.0/repositories: not counted
        clock.advance(3599)
        assert _get(sim, "/repositories/acme/api").status_code == 429
        clock.advance(1)
        assert _get(sim, "/repositories/acme/api").status_code == 200
        assert [r.fault for r in sim.requests if r.status == 429] == ["rate_limit"] * 3


def test_each_credential_has_its_own_budget() -> None:
    with BitbucketCloudSimulator(username="bot", clock=ManualClock()) as sim:
        sim.add_repository("acme/api")
        sim.set_hourly_limit(HourlyLimit(requests=2))
        assert [_get(sim, "/repositories/acme/api").status_code for _ in range(3)] == [200, 200, 429]
        basic = [_get(sim, "/repositories/acme/api", basic=("bot", sim.token)).status_code for _ in range(3)]
        assert basic == [200, 200, 429]
        sim.set_hourly_limit(None)
        assert _get(sim, "/repositories/acme/api").status_code == 200


def test_access_tokens_get_rate_limit_headers_on_repository_endpoints_only() -> None:
    with BitbucketCloudSimulator(access_token=True, username="bot", clock=ManualClock()) as sim:
        sim.add_repository("acme/api")
        sim.set_hourly_limit(HourlyLimit(requests=10))
        first = _get(sim, "/repositories/acme/api")
        assert first.headers["X-RateLimit-Limit"] == "10"
        assert first.headers["X-RateLimit-Resource"] == "api"
        assert first.headers["X-RateLimit-NearLimit"] == "false"
        near = [_get(sim, "/repositories/acme/api").headers["X-RateLimit-NearLimit"] for _ in range(9)]
        assert near == ["false"] * 7 + ["true"] * 2
        refused = _get(sim, "/repositories/acme/api")
        assert refused.status_code == 429 and refused.headers["X-RateLimit-NearLimit"] == "true"
        assert "Retry-After" not in refused.headers
        assert "X-RateLimit-Limit" not in _get(sim, "/user", basic=("bot", sim.token)).headers
        user_token = _get(sim, "/repositories/acme/api", basic=("bot", sim.token))
        assert user_token.status_code == 200 and "X-RateLimit-Limit" not in user_token.headers


def test_without_a_budget_access_tokens_still_see_the_base_limit_and_oauth_tokens_see_none() -> None:
    with BitbucketCloudSimulator(access_token=True) as access, BitbucketCloudSimulator() as oauth:
        for sim in (access, oauth):
            sim.add_repository("acme/api")
        assert _get(access, "/repositories/acme/api").headers["X-RateLimit-Limit"] == "1000"
        assert "X-RateLimit-Limit" not in _get(oauth, "/repositories/acme/api").headers


def test_a_scaled_clock_lets_a_long_window_pass_quickly() -> None:
    real = [0.0]
    clock = ScaledClock(3600, source=lambda: real[0])  # one real second is a simulated hour
    with BitbucketCloudSimulator(clock=clock) as sim:
        sim.add_repository("acme/api")
        sim.set_hourly_limit(HourlyLimit(requests=3))
        assert [_get(sim, "/repositories/acme/api").status_code for _ in range(4)] == [200, 200, 200, 429]
        real[0] += 1.0
        assert _get(sim, "/repositories/acme/api").status_code == 200


def test_the_429_window_also_runs_on_the_simulator_clock() -> None:
    clock = ManualClock()
    with BitbucketCloudSimulator(clock=clock) as sim:
        sim.rate_limit(60)
        assert _get(sim, "/user").status_code == 429
        clock.advance(60)
        assert _get(sim, "/user").status_code == 200
