"""JiraClient against the Jira Cloud and Data Center simulators, over real HTTP, through the queue."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest

from jirabucket.clients import JiraClient
from jirabucket.errors import (
    AuthError,
    NotFound,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
)
from jirabucket.models import Comment, Issue, RemoteLink, Transition
from jirabucket.queue import RetryPolicy, TaskQueue
from jirabucket.testing import (
    Faults,
    JiraCloudSimulator,
    JiraDataCenterSimulator,
    RequestRecord,
)
from jirabucket.tokens import JiraToken

Sim = JiraCloudSimulator | JiraDataCenterSimulator


@pytest.fixture(params=["jira_cloud", "jira_datacenter"])
def sim(request: pytest.FixtureRequest) -> Sim:
    """Both flavors, from the jirabucket pytest plugin's fixtures."""
    simulator: Sim = request.getfixturevalue(request.param)
    return simulator


def _token(sim: Sim) -> JiraToken:
    if isinstance(sim, JiraCloudSimulator):
        return JiraToken(sim.token, email=sim.email)
    return JiraToken(sim.token)


def _flavor(sim: Sim) -> Literal["cloud", "datacenter"]:
    return "cloud" if isinstance(sim, JiraCloudSimulator) else "datacenter"


@pytest.fixture
def jira(sim: Sim, queue: TaskQueue) -> Iterator[JiraClient]:
    client = JiraClient(sim.url, _token(sim), flavor=_flavor(sim), queue=queue,
                        timeout=10)
    yield client
    client.close()


def _api_paths(records: list[RequestRecord]) -> list[str]:
    return [f"{r.method} {r.path.split('/rest/api/')[1]}" for r in records]


def test_myself_and_auth_scheme_per_flavor(sim: Sim, jira: JiraClient) -> None:
    user = jira.myself()
    assert user.display_name == "Sync Bot"
    assert user.email == "bot@example.com"
    [record] = sim.requests
    cloud = isinstance(sim, JiraCloudSimulator)
    assert record.auth_scheme == ("basic" if cloud else "bearer")
    assert record.auth_ok
    assert record.path == ("/rest/api/3/myself" if cloud else "/rest/api/2/myself")


def test_get_issues_batches_and_reports_missing_keys(sim: Sim, jira: JiraClient) -> None:
    for n in range(1, 151):
        sim.add_issue(f"ABC-{n}", summary=f"Issue {n}", status="In Progress" if n % 2 else "Done")
    wanted = [f"ABC-{n}" for n in range(1, 151)] + ["ABC-999", "NOPE-1", "UTF-8x", "ABC-1"]
    result = jira.get_issues(wanted)
    assert set(result.found) == {f"ABC-{n}" for n in range(1, 151)}
    assert result.missing == frozenset({"ABC-999", "NOPE-1", "UTF-8x"})
    assert result.found["ABC-3"] == Issue("ABC-3", "Issue 3", "In Progress", "indeterminate", "ABC",
                                          issue_type="Task")
    assert result.found["ABC-4"].status_category == "done"
    # 152 well-formed distinct keys in batches of 100: two requests, nothing more.
    assert len(sim.requests) == 2
    if isinstance(sim, JiraCloudSimulator):
        assert _api_paths(sim.requests) == ["POST 3/issue/bulkfetch"] * 2
    else:
        assert {r.query["validateQuery"][0] for r in sim.requests} == {"warn"}


def test_get_issues_with_no_valid_key_makes_no_request(sim: Sim, jira: JiraClient) -> None:
    result = jira.get_issues(["SHA-256x", "nonsense"])
    assert not result.found
    assert result.missing == {"SHA-256x", "nonsense"}
    assert sim.requests == []


def test_search_is_lazy_and_pages_through_everything(sim: Sim, jira: JiraClient) -> None:
    for n in range(1, 251):
        sim.add_issue(f"PRJ-{n}", summary=f"S{n}")
    results = jira.search("project = PRJ ORDER BY key ASC")
    assert sim.requests == []  # nothing happens until iterated
    first = next(results)
    assert first.key == "PRJ-1"
    assert len(sim.requests) == 1
    rest = list(results)
    assert [i.key for i in [first, *rest]] == [f"PRJ-{n}" for n in range(1, 251)]
    assert len(sim.requests) == 3  # 100 per page
    if isinstance(sim, JiraCloudSimulator):
        assert {p for p in _api_paths(sim.requests)} == {"GET 3/search/jql"}
        assert "nextPageToken" in sim.requests[2].query
    else:
        assert [r.query["startAt"] for r in sim.requests] == [["0"], ["100"], ["200"]]


def test_search_within_one_page_is_one_request(sim: Sim, jira: JiraClient) -> None:
    for n in range(1, 6):
        sim.add_issue(f"PRJ-{n}")
    assert len(list(jira.search("project = PRJ"))) == 5
    assert len(sim.requests) == 1


def test_invalid_jql_is_a_permanent_error(sim: Sim, jira: JiraClient) -> None:
    with pytest.raises(PermanentError) as caught:
        list(jira.search("project = NOPE"))
    assert caught.value.status == 400


def test_remote_link_upsert_is_idempotent(sim: Sim, jira: JiraClient) -> None:
    sim.add_issue("ABC-1")
    first = jira.upsert_remote_link("ABC-1", global_id="pr:ws/repo:7", url="https://x/7",
                                    title="PR #7", resolved=False)
    again = jira.upsert_remote_link("ABC-1", global_id="pr:ws/repo:7", url="https://x/7",
                                    title="PR #7 merged", resolved=True)
    assert first == again
    links = jira.remote_links("ABC-1")
    assert links == [RemoteLink(first, "pr:ws/repo:7", "https://x/7", "PR #7 merged", True)]
    assert len(sim.issue("ABC-1").remote_links) == 1


def test_comments_round_trip_as_plain_text(sim: Sim, jira: JiraClient) -> None:
    sim.add_issue("ABC-1")
    text = "Linked PR #7: ünïcødé ✓\nsecond line\n\nnew paragraph"
    added = jira.add_comment("ABC-1", text)
    assert isinstance(added, Comment)
    assert added.text == text
    assert jira.comments("ABC-1") == [added]
    writes = [r for r in sim.requests if r.is_write]
    assert len(writes) == 1


def test_comments_page_through_more_than_one_page(sim: Sim, jira: JiraClient) -> None:
    sim.add_issue("ABC-1")
    for n in range(120):
        jira.api.add_comment("ABC-1", f"c{n}")
    sim.clear_requests()
    assert [c.text for c in jira.comments("ABC-1")] == [f"c{n}" for n in range(120)]
    assert len(sim.requests) == 2


def test_transitions_and_transition_by_name_or_status(sim: Sim, jira: JiraClient) -> None:
    sim.add_issue("ABC-1", status="To Do")
    options = jira.transitions("ABC-1")
    assert Transition(options[0].id, "Start work", "In Progress", to_category="indeterminate") in options
    sim.clear_requests()
    assert jira.transition("ABC-1", "start WORK") is True
    assert sim.issue("ABC-1").status == "In Progress"
    assert [r.method for r in sim.requests] == ["GET", "POST"]  # status and transitions in one read
    assert jira.transition("ABC-1", "in review") is True  # by target status
    assert sim.issue("ABC-1").status == "In Review"
    sim.clear_requests()
    assert jira.transition("ABC-1", "In Review") is False  # already there: no write
    assert [r.method for r in sim.requests] == ["GET"]
    with pytest.raises(PermanentError, match="no transition"):
        jira.transition("ABC-1", "Reopen")
    assert sim.issue("ABC-1").status == "In Review"


def test_missing_issue_is_not_found(sim: Sim, jira: JiraClient) -> None:
    with pytest.raises(NotFound) as caught:
        jira.remote_links("ABC-404")
    assert caught.value.status == 404


def test_wrong_token_is_an_auth_error(sim: Sim, queue: TaskQueue) -> None:
    token = JiraToken("wrong-secret", email="bot@example.com") if _flavor(sim) == "cloud" \
        else JiraToken("wrong-secret")
    with (
        JiraClient(sim.url, token, flavor=_flavor(sim), queue=queue) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.myself()
    assert caught.value.status == 401
    assert "wrong-secret" not in str(caught.value) + caught.value.body
    assert len(sim.requests) == 1  # auth errors are not retried


def test_bearer_on_cloud_is_refused_with_403(queue: TaskQueue) -> None:
    with JiraCloudSimulator() as sim, JiraClient(
        sim.url, JiraToken(sim.token), flavor="cloud", queue=queue
    ) as client:
        with pytest.raises(AuthError) as caught:
            client.myself()
        assert caught.value.status == 403
        assert sim.requests[0].auth_scheme == "bearer"


def test_rate_limit_is_retried_by_the_queue_not_by_atlassian(sim: Sim) -> None:
    # A window that outlasts the test: in test mode the waits are computed, not slept, so the
    # attempts come back to back, but on a loaded machine three of them can take more than 0.3 s
    # (a 0.3 s window let the third one through in 1 of 4 suite runs while the VM lost CPU to steal).
    sim.rate_limit(60, retry_after=1)
    policy = RetryPolicy(rate_limit_max_wait=2.0)  # 429s are bounded by the wait they add up to
    with (
        TaskQueue(workers=2, policy=policy) as q,
        JiraClient(sim.url, _token(sim), flavor=_flavor(sim), queue=q) as client,
        pytest.raises(RateLimited) as caught,
    ):
        client.myself()  # test mode: the waits are not slept, so all 3 attempts hit the window
    assert caught.value.retry_after is not None
    assert [r.status for r in sim.requests] == [429, 429, 429]


def test_private_queue_is_owned_and_closed(sim: Sim) -> None:
    client = JiraClient(sim.url, _token(sim), flavor=_flavor(sim))
    assert client.myself().display_name == "Sync Bot"
    client.close()


def test_write_reset_after_applying_is_outcome_unknown_not_a_duplicate(
    sim: Sim, jira: JiraClient
) -> None:
    sim.add_issue("ABC-1")
    sim.set_faults(Faults(reset_after_write_rate=1.0, methods=frozenset({"POST"})))
    with pytest.raises(OutcomeUnknown):
        jira.add_comment("ABC-1", "once")
    # Not idempotent: the queue does not repeat it, so there is exactly one comment.
    assert len(sim.issue("ABC-1").comments) == 1
    assert len([r for r in sim.requests if r.is_write]) == 1


def test_idempotent_upsert_is_retried_through_resets(sim: Sim, jira: JiraClient) -> None:
    sim.add_issue("ABC-1")
    sim.set_faults(Faults(reset_after_write_rate=0.5, methods=frozenset({"POST"})))
    for n in range(4):
        jira.upsert_remote_link("ABC-1", global_id="g-1", url=f"https://x/{n}", title="t",
                                resolved=False)
    assert [link["object"]["url"] for link in sim.issue("ABC-1").remote_links] == ["https://x/3"]


def test_slow_answer_times_out_as_transient(sim: Sim, queue: TaskQueue) -> None:
    sim.set_faults(Faults(slow_rate=1.0, slow_seconds=3.0))
    policy = RetryPolicy(max_attempts=1)
    with (
        TaskQueue(workers=1, policy=policy) as q,
        JiraClient(sim.url, _token(sim), flavor=_flavor(sim), queue=q, timeout=0.3) as client,
        pytest.raises(TransientError) as caught,
    ):
        client.myself()
    assert caught.value.status is None
    assert "no answer from 127.0.0.1:" in str(caught.value) and "within 0.3 s (timeout)" in str(caught.value)
