"""Shared plumbing: lifecycle, keep-alive, request log, unknown paths."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
import requests

from jirabucket.testing import Faults, JiraCloudSimulator, JiraDataCenterSimulator, RequestRecord


def test_url_is_loopback_without_trailing_slash_and_needs_start() -> None:
    sim = JiraCloudSimulator()
    with pytest.raises(RuntimeError):
        _ = sim.url
    with sim:
        assert sim.url.startswith("http://127.0.0.1:") and not sim.url.endswith("/")
        with pytest.raises(RuntimeError):
            sim.start()
    with pytest.raises(RuntimeError):
        _ = sim.url


def test_keep_alive_connections_are_reused_and_cut_on_stop() -> None:
    sim = JiraDataCenterSimulator().start()
    session = requests.Session()
    session.headers["Authorization"] = "Bearer jira-dc-token"
    for _ in range(3):
        assert session.get(f"{sim.url}/rest/api/2/myself", timeout=5).status_code == 200
    url = sim.url
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/rest/api/2/myself", timeout=5)


def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.002)


def test_stop_ends_pending_slow_answers_quickly() -> None:
    sim = JiraCloudSimulator().start()
    sim.set_faults(Faults(slow_rate=1.0, slow_seconds=60))
    url = sim.url
    worker = threading.Thread(
        target=lambda: _swallow(
            lambda: requests.get(f"{url}/rest/api/3/myself", auth=("bot@example.com", "jira-cloud-token"), timeout=30)
        ),
        daemon=True,
    )
    worker.start()
    _until(lambda: sim.in_flight == 1)  # the request is read and its slow answer under way
    started = time.monotonic()
    sim.stop()
    worker.join(timeout=10)
    assert time.monotonic() - started < 5 and not worker.is_alive()


def test_hold_keeps_requests_unanswered_and_unapplied_until_the_block_ends() -> None:
    with JiraCloudSimulator() as sim:
        sim.add_issue("ABC-1")
        url, auth = sim.url, ("bot@example.com", "jira-cloud-token")
        answers: list[int] = []

        def comment(n: int) -> None:
            body = {"body": f"c{n}"}
            answer = requests.post(f"{url}/rest/api/2/issue/ABC-1/comment", json=body, auth=auth, timeout=30)
            answers.append(answer.status_code)

        with sim.hold():
            senders = [threading.Thread(target=comment, args=(n,), daemon=True) for n in range(3)]
            for sender in senders:
                sender.start()
            _until(lambda: sim.in_flight == 3)
            assert answers == [] and sim.issue("ABC-1").comments == () and sim.requests == []
        for sender in senders:
            sender.join(timeout=10)
        assert answers == [201, 201, 201]
        assert len(sim.issue("ABC-1").comments) == 3
        _until(lambda: sim.in_flight == 0)  # a handler counts itself out just after its answer went


def test_requests_held_when_the_simulator_stops_are_dropped_unapplied() -> None:
    sim = JiraCloudSimulator().start()
    sim.add_issue("ABC-1")
    url, auth = sim.url, ("bot@example.com", "jira-cloud-token")
    failures: list[type[BaseException]] = []

    def comment() -> None:
        try:
            requests.post(f"{url}/rest/api/2/issue/ABC-1/comment", json={"body": "x"}, auth=auth, timeout=30)
        except requests.RequestException as exc:
            failures.append(type(exc))

    sender = threading.Thread(target=comment, daemon=True)
    with sim.hold():
        sender.start()
        _until(lambda: sim.in_flight == 1)
        sim.stop()
    sender.join(timeout=10)
    assert not sender.is_alive() and failures == [requests.ConnectionError]
    assert sim.issue("ABC-1").comments == ()


def _swallow(call: Callable[[], object]) -> None:
    with contextlib.suppress(requests.RequestException):
        call()


def test_request_log_records_everything_and_is_a_copy(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    session = requests.Session()
    session.auth = ("bot@example.com", "jira-cloud-token")
    session.get(f"{jira_cloud.url}/rest/api/3/issue/ABC-1", params={"fields": ["summary", "status"]})
    session.post(f"{jira_cloud.url}/rest/api/2/issue/ABC-1/comment", json={"body": "x"})
    requests.get(f"{jira_cloud.url}/rest/api/3/myself", timeout=5)
    log = jira_cloud.requests
    assert log[0] == RequestRecord(
        method="GET",
        path="/rest/api/3/issue/ABC-1",
        query={"fields": ["summary", "status"]},
        status=200,
        auth_scheme="basic",
        auth_ok=True,
        fault=None,
        is_write=False,
    )
    assert (log[1].method, log[1].status, log[1].is_write) == ("POST", 201, True)
    assert (log[2].auth_scheme, log[2].auth_ok, log[2].status) == (None, False, 401)
    log.clear()
    assert len(jira_cloud.requests) == 3
    jira_cloud.clear_requests()
    assert jira_cloud.requests == []


def test_unknown_path_and_wrong_method_answer_in_product_shape(jira_cloud: JiraCloudSimulator) -> None:
    auth = ("bot@example.com", "jira-cloud-token")
    missing = requests.get(f"{jira_cloud.url}/rest/api/3/nothing/here", auth=auth, timeout=5)
    assert missing.status_code == 404 and missing.json()["errorMessages"]
    wrong = requests.delete(f"{jira_cloud.url}/rest/api/3/myself", auth=auth, timeout=5)
    assert wrong.status_code == 405
    bad_json = requests.post(
        f"{jira_cloud.url}/rest/api/3/search/jql",
        data=b"{nope",
        auth=auth,
        timeout=5,
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400


def test_many_simulators_start_and_stop_fast() -> None:
    started = time.monotonic()
    for _ in range(20):
        with JiraCloudSimulator():
            pass
    assert time.monotonic() - started < 10


def test_trailing_slash_is_accepted_like_the_products(bitbucket_cloud: object) -> None:
    from jirabucket.testing import BitbucketCloudSimulator

    assert isinstance(bitbucket_cloud, BitbucketCloudSimulator)
    bitbucket_cloud.add_repository("acme/api")
    headers = {"Authorization": "Bearer bb-cloud-token"}
    answer = requests.get(f"{bitbucket_cloud.url}/2.0/repositories/acme/api/pullrequests/", headers=headers, timeout=5)
    assert answer.status_code == 200 and answer.json()["values"] == []
