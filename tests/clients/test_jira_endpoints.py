"""Jira endpoints for workflows and releases: request and answer shapes per flavor, checked with ``responses``.

Each call goes through a queued :class:`JiraClient` on a recording queue, so the
tests also see the JSON arguments and the retry flags each declaration gives.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from client_helpers import RecordingQueue

from jirabucket.clients import JiraClient
from jirabucket.errors import ConfigError, PermanentError
from jirabucket.models import Issue, Transition, Version
from jirabucket.tokens import JiraToken

SECRET = "jira-endpoints-secret-01"
CLOUD = "https://acme.atlassian.net"
DATACENTER = "https://jira.example.com"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    """Answers registered per test; every one of them must be asked for."""
    with responses.RequestsMock() as requests_mock:
        yield requests_mock


@pytest.fixture(params=["cloud", "datacenter"])
def jira(request: pytest.FixtureRequest, mock: responses.RequestsMock, recorder: RecordingQueue
         ) -> Iterator[JiraClient]:
    cloud = request.param == "cloud"
    token = JiraToken(SECRET, email="bot@example.com") if cloud else JiraToken(SECRET)
    with JiraClient(CLOUD if cloud else DATACENTER, token, queue=recorder) as client:
        yield client


def _query(call: Any) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(call.request.url).query))


def _api(jira: JiraClient) -> str:
    return f"{jira.base_url}/rest/api/{3 if jira.flavor == 'cloud' else 2}"


def _body(call: Any) -> Any:
    return json.loads(call.request.body)


def _status(name: str, category: str) -> dict[str, Any]:
    return {"name": name, "statusCategory": {"key": category}}


def test_get_issue_reads_its_type_and_fix_versions(
    jira: JiraClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    fields = {"summary": "Login", "status": _status("Done", "done"), "project": {"key": "ABC"},
              "issuetype": {"name": "Bug"}, "fixVersions": [{"id": "1", "name": "2.3"}, {"id": "2", "name": "2.4"}]}
    mock.get(f"{_api(jira)}/issue/ABC-1", json={"key": "ABC-1", "fields": fields})
    assert jira.get_issue("ABC-1") == Issue("ABC-1", "Login", "Done", "done", "ABC", issue_type="Bug",
                                            fix_versions=("2.3", "2.4"))
    asked = _query(mock.calls[0])["fields"].split(",")
    assert {"issuetype", "fixVersions", "status", "summary"} <= set(asked)
    assert recorder.flags == [("jira.get_issue", True, None)]


def test_get_issue_status_gives_name_and_category(jira: JiraClient, mock: responses.RequestsMock) -> None:
    mock.get(f"{_api(jira)}/issue/ABC-2", json={"key": "ABC-2", "fields": {"status": _status("QA", "indeterminate")}})
    assert jira.get_issue_status("ABC-2") == ("QA", "indeterminate")
    assert _query(mock.calls[0]) == {"fields": "status"}


def test_issue_state_reads_status_category_and_transitions_in_one_request(
    jira: JiraClient, mock: responses.RequestsMock
) -> None:
    to_review = {"id": "21", "name": "Submit", "to": {"name": "In Review", "statusCategory": {"key": "indeterminate"}}}
    body = {"key": "ABC-3", "fields": {"status": _status("In Progress", "indeterminate")}, "transitions": [to_review]}
    mock.get(f"{_api(jira)}/issue/ABC-3", json=body)
    state = jira.issue_state("ABC-3")
    assert (state.status, state.category) == ("In Progress", "indeterminate")
    assert state.transitions == (Transition("21", "Submit", "In Review", to_category="indeterminate"),)
    assert _query(mock.calls[0]) == {"fields": "status", "expand": "transitions.fields"}
    assert len(mock.calls) == 1


def test_issue_state_asks_for_transitions_when_the_server_drops_the_expansion(
    jira: JiraClient, mock: responses.RequestsMock
) -> None:
    mock.get(f"{_api(jira)}/issue/ABC-4", json={"key": "ABC-4", "fields": {"status": _status("To Do", "new")}})
    start = {"id": "11", "name": "Start work", "to": {"name": "In Progress"}}
    mock.get(f"{_api(jira)}/issue/ABC-4/transitions", json={"transitions": [start]})
    state = jira.issue_state("ABC-4")
    assert [t.name for t in state.transitions] == ["Start work"]
    assert len(mock.calls) == 2


def test_transitions_are_read_with_their_fields_and_name_the_required_ones(
    jira: JiraClient, mock: responses.RequestsMock
) -> None:
    done = {"id": "31", "name": "Done", "to": {"name": "Done"}, "hasScreen": True, "fields": {
        "resolution": {"required": True, "name": "Resolution", "allowedValues": [{"name": "Done"}]},
        "comment": {"required": False, "name": "Comment"},
    }}
    start = {"id": "11", "name": "Start work", "to": {"name": "In Progress"}}
    mock.get(f"{_api(jira)}/issue/ABC-1/transitions", json={"transitions": [start, done]})
    assert jira.transitions("ABC-1") == [
        Transition("11", "Start work", "In Progress"),
        Transition("31", "Done", "Done", required_fields=("resolution",), screen_fields=("resolution", "comment")),
    ]
    assert _query(mock.calls[0]) == {"expand": "transitions.fields"}


def test_apply_transition_sends_screen_fields_and_surfaces_jiras_refusal(
    jira: JiraClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    url = f"{_api(jira)}/issue/ABC-1/transitions"
    mock.post(url, status=204)
    mock.post(url, status=400, json={"errorMessages": [], "errors": {"resolution": "Resolution is required."}})
    jira.apply_transition("ABC-1", "31", fields={"resolution": {"name": "Done"}})
    assert _body(mock.calls[0]) == {"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}
    with pytest.raises(PermanentError, match="Resolution is required") as caught:
        jira.apply_transition("ABC-1", "31")
    assert caught.value.status == 400
    assert _body(mock.calls[1]) == {"transition": {"id": "31"}}
    assert recorder.flags == [("jira.apply_transition", False, "ABC-1")] * 2


def test_delete_comment_is_safe_to_repeat(
    jira: JiraClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    url = f"{_api(jira)}/issue/ABC-1/comment/10042"
    mock.delete(url, status=204)
    mock.delete(url, status=404, json={"errorMessages": ["Can not find a comment for the id: 10042."]})
    assert jira.delete_comment("ABC-1", "10042") is True
    assert jira.delete_comment("ABC-1", "10042") is False  # already gone: the outcome asked for
    with pytest.raises(ConfigError):
        jira.delete_comment("ABC-1", "../10042")
    assert len(mock.calls) == 2
    assert recorder.flags[0] == ("jira.delete_comment", True, "ABC-1")


def test_project_versions_are_parsed_with_their_release_dates(
    jira: JiraClient, mock: responses.RequestsMock
) -> None:
    mock.get(f"{_api(jira)}/project/ABC/versions", json=[
        {"id": "10000", "name": "2.3", "released": True, "releaseDate": "2026-02-01", "projectId": 10001},
        {"id": "10010", "name": "2.4", "released": False, "projectId": 10001},
    ])
    assert jira.project_versions("ABC") == [
        Version("10000", "2.3", True, date(2026, 2, 1), "ABC"),
        Version("10010", "2.4", False, None, "ABC"),
    ]
    with pytest.raises(ConfigError):
        jira.project_versions("AB/C")


def test_create_version_posts_the_projects_id(
    jira: JiraClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    mock.get(f"{_api(jira)}/project/ABC", json={"id": "10001", "key": "ABC", "name": "Abc"})
    mock.post(f"{_api(jira)}/version", status=201, json={
        "id": "10020", "name": "2.5", "released": True, "releaseDate": "2026-03-01", "projectId": 10001,
    })
    created = jira.create_version("ABC", "2.5", released=True, release_date=date(2026, 3, 1))
    assert created == Version("10020", "2.5", True, date(2026, 3, 1), "ABC")
    assert _body(mock.calls[1]) == {"name": "2.5", "projectId": 10001, "released": True,
                                    "releaseDate": "2026-03-01"}
    assert recorder.submitted[0].args["release_date"] == "2026-03-01"  # a date crosses as ISO text
    assert recorder.flags == [("jira.create_version", False, "ABC")]


def test_update_version_marks_it_released(
    jira: JiraClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    mock.put(f"{_api(jira)}/version/10020", json={
        "id": "10020", "name": "2.5", "released": True, "releaseDate": "2026-03-02", "projectId": 10001,
    })
    updated = jira.update_version("10020", released=True, release_date="2026-03-02")
    assert updated == Version("10020", "2.5", True, date(2026, 3, 2), "")
    assert _body(mock.calls[0]) == {"released": True, "releaseDate": "2026-03-02"}
    with pytest.raises(ConfigError, match="not a date"):
        jira.update_version("10020", released=True, release_date="March 2nd")
    assert len(mock.calls) == 1
    assert recorder.flags[0] == ("jira.update_version", True, "10020")


def test_add_fix_version_adds_without_replacing_the_others(
    jira: JiraClient, mock: responses.RequestsMock, recorder: RecordingQueue
) -> None:
    mock.put(f"{_api(jira)}/issue/ABC-1", status=204)
    jira.add_fix_version("ABC-1", "2.5")
    assert _body(mock.calls[0]) == {"update": {"fixVersions": [{"add": {"name": "2.5"}}]}}
    assert recorder.flags == [("jira.add_fix_version", True, "ABC-1")]
