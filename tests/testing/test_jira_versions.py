"""Jira project versions and fixVersions: list, create, release, and issue edits that add or set them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import requests

from jirabucket.testing import JiraCloudSimulator, JiraDataCenterSimulator

Sim = JiraCloudSimulator | JiraDataCenterSimulator


@pytest.fixture(params=["cloud-3", "cloud-2", "datacenter-2"])
def flavor(request: pytest.FixtureRequest) -> Iterator[tuple[Sim, str, requests.Session]]:
    cloud = request.param.startswith("cloud")
    with JiraCloudSimulator() if cloud else JiraDataCenterSimulator() as sim:
        session = requests.Session()
        if isinstance(sim, JiraCloudSimulator):
            session.auth = (sim.email, sim.token)
        else:
            session.headers["Authorization"] = f"Bearer {sim.token}"
        yield sim, f"{sim.url}/rest/api/{request.param[-1]}", session


def test_versions_are_listed_created_and_released(flavor: tuple[Sim, str, requests.Session]) -> None:
    sim, api, session = flavor
    sim.add_issue("ABC-1")
    sim.add_version("ABC", "1.0", released=True, release_date=date(2026, 1, 5))
    listed = session.get(f"{api}/project/ABC/versions").json()
    assert [(v["name"], v["released"], v["releaseDate"]) for v in listed] == [("1.0", True, "2026-01-05")]
    created = session.post(f"{api}/version", json={"name": "2.0", "project": "ABC", "description": "Next"})
    assert created.status_code == 201
    version = created.json()
    assert (version["name"], version["released"], version["archived"], version["description"]) == (
        "2.0",
        False,
        False,
        "Next",
    )
    assert version["projectId"] == listed[0]["projectId"]
    by_id = session.post(f"{api}/version", json={"name": "2.1", "projectId": version["projectId"]})
    assert by_id.status_code == 201
    released = session.put(f"{api}/version/{version['id']}", json={"released": True, "releaseDate": "2026-03-01"})
    assert released.status_code == 200 and released.json()["releaseDate"] == "2026-03-01"
    assert released.json()["userReleaseDate"] == "1/Mar/26" and released.json()["overdue"] is False
    assert session.get(f"{api}/version/{version['id']}").json()["released"] is True
    assert [(v.name, v.released, v.release_date) for v in sim.versions("ABC")] == [
        ("1.0", True, date(2026, 1, 5)),
        ("2.0", True, date(2026, 3, 1)),
        ("2.1", False, None),
    ]


def test_version_errors_answer_as_jira_does(flavor: tuple[Sim, str, requests.Session]) -> None:
    sim, api, session = flavor
    sim.add_version("ABC", "1.0")
    duplicate = session.post(f"{api}/version", json={"name": "1.0", "project": "ABC"})
    assert duplicate.status_code == 400
    assert duplicate.json() == {
        "errorMessages": [],
        "errors": {"name": "A version with this name already exists in this project."},
    }
    unknown = session.get(f"{api}/project/NOPE/versions")
    assert unknown.status_code == 404
    assert unknown.json()["errorMessages"] == ["No project could be found with key 'NOPE'."]
    assert session.post(f"{api}/version", json={"name": "1.0", "project": "NOPE"}).status_code == 404
    assert session.post(f"{api}/version", json={"project": "ABC"}).json()["errors"] == {
        "name": "You must specify a valid version name"
    }
    missing = session.put(f"{api}/version/99999", json={"released": True})
    assert missing.status_code == 404 and missing.json()["errorMessages"] == ["Could not find version for id '99999'"]
    bad_date = session.post(f"{api}/version", json={"name": "3.0", "project": "ABC", "releaseDate": "March 1"})
    assert bad_date.status_code == 400 and "releaseDate" in bad_date.json()["errors"]
    with pytest.raises(ValueError, match="already exists"):
        sim.add_version("abc", "1.0")


def test_issue_shows_fix_versions_and_type_and_add_keeps_the_others(flavor: tuple[Sim, str, requests.Session]) -> None:
    sim, api, session = flavor
    for name in ("1.0", "2.0", "3.0"):
        sim.add_version("ABC", name)
    sim.add_issue("ABC-1", issue_type="Bug", fix_versions=["1.0"])
    url = f"{api}/issue/ABC-1"
    fields = session.get(url, params={"fields": "fixVersions,issuetype"}).json()["fields"]
    assert [v["name"] for v in fields["fixVersions"]] == ["1.0"] and fields["issuetype"]["name"] == "Bug"
    add = {"update": {"fixVersions": [{"add": {"name": "2.0"}}]}}
    assert session.put(url, json=add).status_code == 204
    assert sim.issue("ABC-1").fix_versions == ("1.0", "2.0")
    before = session.get(url, params={"fields": "updated"}).json()["fields"]["updated"]
    assert session.put(url, json=add).status_code == 204  # adding it again changes nothing
    assert session.get(url, params={"fields": "updated"}).json()["fields"]["updated"] == before
    version_3 = sim.versions("ABC")[2].id
    ops = {"update": {"fixVersions": [{"remove": {"name": "1.0"}}, {"add": {"id": version_3}}]}}
    assert session.put(url, json=ops).status_code == 204
    assert sim.issue("ABC-1").fix_versions == ("2.0", "3.0")
    assert session.put(url, json={"update": {"fixVersions": [{"set": [{"name": "1.0"}]}]}}).status_code == 204
    assert sim.issue("ABC-1").fix_versions == ("1.0",)
    assert session.put(url, json={"fields": {"fixVersions": [{"name": "3.0"}, {"name": "2.0"}]}}).status_code == 204
    assert sim.issue("ABC-1").fix_versions == ("3.0", "2.0")


def test_issue_edits_jira_refuses_change_nothing(flavor: tuple[Sim, str, requests.Session]) -> None:
    sim, api, session = flavor
    sim.add_version("ABC", "1.0")
    sim.add_version("OPS", "2.0")
    sim.add_issue("ABC-1", fix_versions=["1.0"])
    url = f"{api}/issue/ABC-1"
    unknown = session.put(url, json={"update": {"fixVersions": [{"add": {"name": "1.0"}}, {"add": {"name": "9.9"}}]}})
    assert unknown.status_code == 400
    assert unknown.json() == {"errorMessages": [], "errors": {"fixVersions": "Version name '9.9' is not valid"}}
    other_project = session.put(url, json={"update": {"fixVersions": [{"add": {"name": "2.0"}}]}})
    assert other_project.json()["errors"] == {"fixVersions": "Version name '2.0' is not valid"}
    wrong_op = session.put(url, json={"update": {"fixVersions": [{"rename": {"name": "1.0"}}]}})
    assert wrong_op.status_code == 400 and "does not support operation 'rename'" in wrong_op.json()["errorMessages"][0]
    off_screen = session.put(url, json={"fields": {"priority": {"name": "High"}}})
    assert off_screen.json()["errors"] == {
        "priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."
    }
    assert sim.issue("ABC-1").fix_versions == ("1.0",)
    assert session.put(url, json={"fields": {"summary": "Renamed"}}).status_code == 204
    assert sim.issue("ABC-1").summary == "Renamed"
    assert session.put(f"{api}/issue/ABC-99", json={"fields": {"summary": "x"}}).status_code == 404
    with pytest.raises(ValueError, match="add_version"):
        sim.add_issue("ABC-2", fix_versions=["4.0"])


def test_a_project_is_read_by_key_or_id_with_the_id_a_new_version_needs(
    flavor: tuple[Sim, str, requests.Session],
) -> None:
    sim, api, session = flavor
    sim.add_version("ABC", "1.0")
    project = session.get(f"{api}/project/abc").json()
    assert (project["key"], [v["name"] for v in project["versions"]]) == ("ABC", ["1.0"])
    assert session.get(f"{api}/project/{project['id']}").json()["key"] == "ABC"
    created = session.post(f"{api}/version", json={"name": "2.0", "projectId": int(project["id"])})
    assert created.status_code == 201 and created.json()["projectId"] == int(project["id"])
    missing = session.get(f"{api}/project/NOPE")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == ["No project could be found with key 'NOPE'."]
