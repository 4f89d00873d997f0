"""Fault injection: each fault happens at its rate, deterministically, and does what it says."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from jirabucket.testing import (
    BitbucketCloudSimulator,
    BitbucketDataCenterSimulator,
    Faults,
    JiraCloudSimulator,
    JiraDataCenterSimulator,
    ManualClock,
)

N = 400
_AUTH = ("bot@example.com", "jira-cloud-token")


def _session() -> requests.Session:
    """A session for many loopback requests (no proxy lookup in the environment each time)."""
    session = requests.Session()
    session.trust_env = False
    session.auth = _AUTH
    return session


def _get_many(sim: JiraCloudSimulator, n: int, *, timeout: float = 10) -> Counter[str]:
    """Send n GETs; count outcomes as status codes or 'reset' / 'timeout'."""
    outcomes: Counter[str] = Counter()
    session = _session()
    for _ in range(n):
        try:
            outcomes[str(session.get(f"{sim.url}/rest/api/3/myself", timeout=timeout).status_code)] += 1
        except requests.ReadTimeout:
            outcomes["timeout"] += 1
        except requests.ConnectionError:
            outcomes["reset"] += 1
    return outcomes


def test_error_rate_answers_503_at_roughly_the_rate_half_with_html() -> None:
    with JiraCloudSimulator(seed=7) as sim:
        sim.set_faults(Faults(error_rate=0.25))
        outcomes = _get_many(sim, N)
        records = sim.requests
    assert 0.17 * N < outcomes["503"] < 0.33 * N
    assert outcomes["503"] + outcomes["200"] == N
    html = sum(1 for r in records if r.fault == "error")
    assert html == outcomes["503"]


def test_503_bodies_mix_proxy_html_and_product_json() -> None:
    with JiraCloudSimulator(seed=3) as sim:
        sim.set_faults(Faults(error_rate=1.0))
        session = _session()
        kinds = Counter(
            session.get(f"{sim.url}/rest/api/3/myself", timeout=10).headers["Content-Type"].split(";")[0]
            for _ in range(100)
        )
    assert kinds["text/html"] > 25 and kinds["application/json"] > 25


def test_reset_rate_drops_connections_without_applying_writes() -> None:
    with JiraCloudSimulator(seed=1) as sim:
        sim.add_issue("ABC-1")
        sim.set_faults(Faults(reset_rate=0.2))
        resets = 0
        session = _session()
        for n in range(200):
            try:
                session.post(f"{sim.url}/rest/api/2/issue/ABC-1/comment", json={"body": f"c{n}"}, timeout=10)
            except requests.ConnectionError:
                resets += 1
        comments = sim.issue("ABC-1").comments
        records = sim.requests
    assert 0.12 * 200 < resets < 0.28 * 200
    assert len(comments) == 200 - resets  # a reset request was never applied
    assert sum(r.fault == "reset" and r.status == 0 for r in records) == resets


def test_reset_after_write_applies_the_write_then_drops_the_answer() -> None:
    with JiraCloudSimulator(seed=2) as sim:
        sim.add_issue("ABC-1")
        sim.set_faults(Faults(reset_after_write_rate=0.3))
        resets = 0
        session = _session()
        for n in range(200):
            try:
                session.post(f"{sim.url}/rest/api/2/issue/ABC-1/comment", json={"body": f"c{n}"}, timeout=10)
            except requests.ConnectionError:
                resets += 1
        comments = sim.issue("ABC-1").comments
    assert 0.2 * 200 < resets < 0.4 * 200
    assert len(comments) == 200  # every write happened, answered or not


def test_reset_after_write_spares_reads() -> None:
    with JiraCloudSimulator() as sim:
        sim.set_faults(Faults(reset_after_write_rate=1.0))
        assert _get_many(sim, 20) == Counter({"200": 20})


def test_slow_answers_outlast_a_client_timeout_but_are_applied() -> None:
    with JiraCloudSimulator(seed=4) as sim:
        sim.add_issue("ABC-1")
        sim.set_faults(Faults(slow_rate=0.5, slow_seconds=3.0))
        timeouts = 0
        session = _session()
        for n in range(12):
            try:
                session.post(f"{sim.url}/rest/api/2/issue/ABC-1/comment", json={"body": f"c{n}"}, timeout=0.2)
            except requests.ReadTimeout:
                timeouts += 1
        assert 2 <= timeouts <= 10
        assert len(sim.issue("ABC-1").comments) == 12


def test_slow_rate_over_many_requests() -> None:
    # slow_seconds=0 counts slow draws without waiting; the log says which ones were slow.
    with JiraCloudSimulator(seed=5) as sim:
        sim.set_faults(Faults(slow_rate=0.1, slow_seconds=0.0))
        _get_many(sim, N)
        slow = sum(r.fault == "slow" for r in sim.requests)
    assert 0.05 * N < slow < 0.15 * N


def test_same_seed_same_faults_and_other_seed_differs() -> None:
    def run(seed: int) -> list[str | None]:
        with JiraCloudSimulator(seed=seed) as sim:
            sim.set_faults(Faults(error_rate=0.3))
            _get_many(sim, 60)
            return [r.fault for r in sim.requests]

    assert run(11) == run(11)
    assert run(11) != run(12)


def test_methods_limit_faults_to_those_methods() -> None:
    with JiraCloudSimulator() as sim:
        sim.add_issue("ABC-1")
        sim.set_faults(Faults(error_rate=1.0, methods=frozenset({"post"})))
        assert _get_many(sim, 10) == Counter({"200": 10})
        answer = requests.post(f"{sim.url}/rest/api/2/issue/ABC-1/comment", json={"body": "x"}, auth=_AUTH, timeout=10)
        assert answer.status_code == 503
        assert sim.issue("ABC-1").comments == ()


def test_faults_change_while_running() -> None:
    with JiraCloudSimulator() as sim:
        sim.set_faults(Faults(error_rate=1.0))
        assert _get_many(sim, 5) == Counter({"503": 5})
        sim.set_faults(Faults())
        assert sim.faults == Faults()
        assert _get_many(sim, 5) == Counter({"200": 5})


def test_latency_delays_every_answer() -> None:
    import time

    with JiraCloudSimulator() as sim:
        sim.set_faults(Faults(latency=0.05))
        started = time.monotonic()
        _get_many(sim, 10)
        assert time.monotonic() - started >= 0.45


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "reset_rate": 0.6},
        {"latency": -1.0},
    ],
)
def test_invalid_fault_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Faults(**bad)


def test_jira_rate_limit_window_sends_retry_after_and_ratelimit_headers() -> None:
    with JiraCloudSimulator() as sim:
        sim.rate_limit(30)
        answer = requests.get(f"{sim.url}/rest/api/3/myself", auth=_AUTH, timeout=10)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "30"
        assert answer.headers["X-RateLimit-Remaining"] == "0"
        assert "X-RateLimit-Reset" in answer.headers
        assert answer.json()["errorMessages"]
        assert sim.requests[-1].fault == "rate_limit"
        sim.rate_limit(0)
        assert requests.get(f"{sim.url}/rest/api/3/myself", auth=_AUTH, timeout=10).status_code == 200


def test_rate_limit_retry_after_can_be_chosen_or_left_out() -> None:
    with JiraDataCenterSimulator() as sim:
        headers = {"Authorization": "Bearer jira-dc-token"}
        sim.rate_limit(30, retry_after=3)
        assert requests.get(f"{sim.url}/rest/api/2/myself", headers=headers, timeout=10).headers["Retry-After"] == "3"
        sim.rate_limit(30, retry_after=None)
        answer = requests.get(f"{sim.url}/rest/api/2/myself", headers=headers, timeout=10)
        assert answer.status_code == 429 and "Retry-After" not in answer.headers


def test_a_rate_limit_window_can_open_with_the_next_request_however_late_it_comes() -> None:
    clock = ManualClock()
    with JiraCloudSimulator(clock=clock) as sim:
        session = _session()

        def status() -> int:
            return session.get(f"{sim.url}/rest/api/3/myself", auth=_AUTH, timeout=10).status_code

        sim.rate_limit(5, retry_after=1)  # "now": over before a request that comes 100 s later
        clock.advance(100)
        assert status() == 200
        sim.rate_limit(5, retry_after=1, starting="next_request")
        clock.advance(100)
        assert [status(), status()] == [429, 429]  # the first request opened it
        clock.advance(4.9)
        assert status() == 429
        clock.advance(0.2)
        assert status() == 200


def test_bitbucket_cloud_429_is_plain_text_without_retry_after_but_dc_sends_one() -> None:
    with BitbucketCloudSimulator() as cloud, BitbucketDataCenterSimulator() as dc:
        cloud.rate_limit(10)
        dc.rate_limit(10)
        c = requests.get(f"{cloud.url}/2.0/user", headers={"Authorization": "Bearer bb-cloud-token"}, timeout=10)
        d = requests.get(
            f"{dc.url}/rest/api/1.0/users/bot", headers={"Authorization": "Bearer bb-dc-token"}, timeout=10
        )
    assert c.status_code == 429 and "Retry-After" not in c.headers
    assert c.headers["Content-Type"].startswith("text/plain")
    assert c.text == "Rate limit for this resource has been exceeded"
    assert "X-RateLimit-Limit" not in c.headers  # only access tokens get them
    assert d.status_code == 429 and d.headers["Retry-After"] == "10"
    assert d.json()["errors"][0]["message"]
