"""Jira Cloud and Data Center simulators behave like the products where clients trip."""

from __future__ import annotations

import re

import pytest
import requests

from jirabucket.testing import JiraCloudSimulator, JiraDataCenterSimulator

_ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Linked"}]}],
}


def _cloud(sim: JiraCloudSimulator) -> requests.Session:
    session = requests.Session()
    session.auth = (sim.email, sim.token)
    return session


def _dc(sim: JiraDataCenterSimulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sim.token}"
    return session


def test_cloud_auth_basic_ok_bearer_403_wrong_401(jira_cloud: JiraCloudSimulator) -> None:
    url = f"{jira_cloud.url}/rest/api/3/myself"
    assert _cloud(jira_cloud).get(url).json()["emailAddress"] == "bot@example.com"
    bearer = requests.get(url, headers={"Authorization": "Bearer jira-cloud-token"}, timeout=10)
    assert bearer.status_code == 403
    assert bearer.json() == {"errorMessages": ["Failed to parse Connect Session Auth Token"], "errors": {}}
    assert requests.get(url, auth=("bot@example.com", "wrong"), timeout=10).status_code == 401
    log = jira_cloud.requests
    assert [(r.auth_scheme, r.auth_ok, r.status) for r in log] == [
        ("basic", True, 200),
        ("bearer", False, 403),
        ("basic", False, 401),
    ]


def test_issue_fields_and_404(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1", summary="Login", status="In Review")
    session = _cloud(jira_cloud)
    issue = session.get(f"{jira_cloud.url}/rest/api/3/issue/ABC-1?fields=summary,status").json()
    assert issue["key"] == "ABC-1"
    assert set(issue["fields"]) == {"summary", "status"}
    assert issue["fields"]["status"]["statusCategory"]["key"] == "indeterminate"
    missing = session.get(f"{jira_cloud.url}/rest/api/3/issue/ABC-2")
    assert missing.status_code == 404
    assert missing.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


def test_search_jql_pages_with_tokens_and_returns_only_ids_without_fields(jira_cloud: JiraCloudSimulator) -> None:
    for n in range(1, 8):
        jira_cloud.add_issue(f"ABC-{n}")
    jira_cloud.add_issue("OPS-1")
    session = _cloud(jira_cloud)
    seen, token = [], None
    while True:
        body = {"jql": "project = ABC ORDER BY key", "maxResults": 3, "fields": ["summary"]}
        if token:
            body["nextPageToken"] = token
        page = session.post(f"{jira_cloud.url}/rest/api/3/search/jql", json=body).json()
        seen += [issue["key"] for issue in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert seen == [f"ABC-{n}" for n in range(1, 8)]
    ids = session.get(f"{jira_cloud.url}/rest/api/3/search/jql", params={"jql": "key in (ABC-1, OPS-1)"}).json()
    assert ids["issues"] == [{"id": "10001"}, {"id": "10008"}]


def test_jql_unknown_key_is_400_and_unsupported_jql_is_400(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    session = _cloud(jira_cloud)
    url = f"{jira_cloud.url}/rest/api/3/search/jql"
    answer = session.get(url, params={"jql": "key in (ABC-1, ABC-9)"})
    assert answer.status_code == 400
    assert answer.json()["errorMessages"] == ["An issue with key 'ABC-9' does not exist for field 'key'."]
    odd = session.get(url, params={"jql": "assignee = currentUser()"})
    assert odd.status_code == 400 and "does not support" in odd.json()["errorMessages"][0]


@pytest.mark.parametrize("path", ["/rest/api/3/search", "/rest/api/2/search"])
def test_removed_search_answers_410(jira_cloud: JiraCloudSimulator, path: str) -> None:
    answer = _cloud(jira_cloud).get(jira_cloud.url + path, params={"jql": "project = ABC"})
    assert answer.status_code == 410
    assert "/rest/api/3/search/jql" in answer.json()["errorMessages"][0]


def test_bulkfetch_lists_missing_keys_in_issue_errors(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    session = _cloud(jira_cloud)
    url = f"{jira_cloud.url}/rest/api/3/issue/bulkfetch"
    answer = session.post(url, json={"issueIdsOrKeys": ["ABC-1", "ABC-2"], "fields": ["status"]}).json()
    assert [i["key"] for i in answer["issues"]] == ["ABC-1"]
    assert [e["id"] for e in answer["issueErrors"]] == ["ABC-2"]
    too_many = session.post(url, json={"issueIdsOrKeys": [f"ABC-{n}" for n in range(1, 102)]})
    assert too_many.status_code == 400


def test_remote_link_upsert_by_global_id_replaces_and_counts_writes(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    session = _cloud(jira_cloud)
    url = f"{jira_cloud.url}/rest/api/3/issue/ABC-1/remotelink"
    link = {"globalId": "pr-1", "relationship": "mentioned in", "object": {"url": "http://x/1", "title": "PR 1"}}
    first = session.post(url, json=link)
    again = session.post(url, json={"globalId": "pr-1", "object": {"url": "http://x/1", "title": "PR 1 (merged)"}})
    other = session.post(url, json={"globalId": "pr-2", "object": {"url": "http://x/2", "title": "PR 2"}})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    snapshot = jira_cloud.issue("ABC-1")
    assert snapshot.remote_link_writes == 3
    assert [link["object"]["title"] for link in snapshot.remote_links] == ["PR 1 (merged)", "PR 2"]
    assert "relationship" not in snapshot.remote_links[0]  # replaced, not merged
    assert session.get(url).json() == list(snapshot.remote_links)
    bad = session.post(url, json={"globalId": "pr-3", "object": {"url": "http://x/3"}})
    assert bad.status_code == 400 and "title" in bad.json()["errors"]


def test_comments_are_adf_on_v3_and_strings_on_v2(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    session = _cloud(jira_cloud)
    v3 = f"{jira_cloud.url}/rest/api/3/issue/ABC-1/comment"
    v2 = f"{jira_cloud.url}/rest/api/2/issue/ABC-1/comment"
    assert session.post(v3, json={"body": "plain"}).status_code == 400
    assert session.post(v3, json={"body": _ADF}).status_code == 201
    assert session.post(v2, json={"body": "from v2"}).status_code == 201
    page = session.get(v3).json()
    assert page["total"] == 2 and page["comments"][0]["body"] == _ADF
    assert page["comments"][1]["body"]["type"] == "doc"
    assert [c["body"] for c in session.get(v2).json()["comments"]] == ["Linked", "from v2"]
    assert [c.text for c in jira_cloud.issue("ABC-1").comments] == ["Linked", "from v2"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", page["comments"][0]["created"])


def test_workflow_transition_names_differ_from_status_names(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("ABC-1")
    session = _cloud(jira_cloud)
    url = f"{jira_cloud.url}/rest/api/3/issue/ABC-1/transitions"
    available = session.get(url).json()["transitions"]
    assert [(t["id"], t["name"], t["to"]["name"]) for t in available] == [
        ("11", "Start work", "In Progress"),
        ("21", "Submit for review", "In Review"),
    ]
    assert session.post(url, json={"transition": {"id": "21"}}).status_code == 204
    assert session.post(url, json={"transition": {"id": "21"}}).status_code == 400
    assert session.post(url, json={"transition": {"id": "51"}}).status_code == 204
    snapshot = jira_cloud.issue("ABC-1")
    assert (snapshot.status, snapshot.status_category) == ("Done", "done")
    assert snapshot.transitions_applied == ("Submit for review", "Approve")


def test_state_api(jira_cloud: JiraCloudSimulator) -> None:
    jira_cloud.add_issue("OPS-2")
    jira_cloud.add_issue("ABC-10")
    jira_cloud.add_issue("ABC-9")
    assert jira_cloud.issue_keys() == ["ABC-9", "ABC-10", "OPS-2"]
    jira_cloud.delete_issue("ABC-9")
    with pytest.raises(KeyError):
        jira_cloud.issue("ABC-9")
    with pytest.raises(ValueError):
        jira_cloud.add_issue("ABC-1", status="Closed")


def test_dc_bearer_auth_user_and_server_info(jira_datacenter: JiraDataCenterSimulator) -> None:
    session = _dc(jira_datacenter)
    me = session.get(f"{jira_datacenter.url}/rest/api/2/myself").json()
    assert me["name"] == "bot" and "accountId" not in me
    info = session.get(f"{jira_datacenter.url}/rest/api/latest/serverInfo").json()
    assert info["deploymentType"] == "Server" and info["version"].startswith("9.")
    wrong = requests.get(f"{jira_datacenter.url}/rest/api/2/myself", auth=("bot", "x"), timeout=10)
    assert wrong.status_code == 401 and wrong.json()["errorMessages"]
    assert session.get(f"{jira_datacenter.url}/rest/api/3/myself").status_code == 404


def test_dc_search_start_at_paging_and_validate_query(jira_datacenter: JiraDataCenterSimulator) -> None:
    for n in range(1, 6):
        jira_datacenter.add_issue(f"ABC-{n}")
    session = _dc(jira_datacenter)
    url = f"{jira_datacenter.url}/rest/api/2/search"
    page = session.get(url, params={"jql": "project = ABC", "startAt": 2, "maxResults": 2}).json()
    assert (page["startAt"], page["maxResults"], page["total"]) == (2, 2, 5)
    assert [i["key"] for i in page["issues"]] == ["ABC-3", "ABC-4"]
    assert isinstance(page["issues"][0]["fields"]["summary"], str)
    strict = session.post(url, json={"jql": "key in (ABC-1, ABC-77)"})
    assert strict.status_code == 400
    warn = session.post(url, json={"jql": "key in (ABC-1, ABC-77)", "validateQuery": "warn"}).json()
    assert [i["key"] for i in warn["issues"]] == ["ABC-1"]
    assert warn["warningMessages"] == ["An issue with key 'ABC-77' does not exist for field 'key'."]
    assert session.get(f"{jira_datacenter.url}/rest/api/2/search/jql", params={"jql": "key = ABC-1"}).status_code == 404


def test_dc_comments_are_strings(jira_datacenter: JiraDataCenterSimulator) -> None:
    jira_datacenter.add_issue("ABC-1")
    session = _dc(jira_datacenter)
    url = f"{jira_datacenter.url}/rest/api/2/issue/ABC-1/comment"
    created = session.post(url, json={"body": "Linked PR"})
    assert created.status_code == 201 and created.json()["body"] == "Linked PR"
    assert created.json()["author"]["name"] == "bot"
    assert jira_datacenter.issue("ABC-1").comments[0].text == "Linked PR"
