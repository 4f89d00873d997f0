"""Jira workflows: status categories, multi-step paths, transition screens, validators, a server without expand."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from jirabucket.testing import (
    RESOLUTION,
    RESOLUTIONS,
    JiraCloudSimulator,
    JiraDataCenterSimulator,
    ScreenField,
    Workflow,
    WorkflowTransition,
)

Sim = JiraCloudSimulator | JiraDataCenterSimulator
LINEAR = Workflow.linear(screens={"Done": (RESOLUTION,)})


def _session(sim: Sim) -> requests.Session:
    session = requests.Session()
    if isinstance(sim, JiraCloudSimulator):
        session.auth = (sim.email, sim.token)
    else:
        session.headers["Authorization"] = f"Bearer {sim.token}"
    return session


def _api(sim: Sim) -> str:
    return f"{sim.url}/rest/api/{3 if isinstance(sim, JiraCloudSimulator) else 2}"


@pytest.fixture(params=["cloud", "datacenter"])
def sim(request: pytest.FixtureRequest) -> Iterator[Sim]:
    flavor = JiraCloudSimulator if request.param == "cloud" else JiraDataCenterSimulator
    with flavor(workflow=LINEAR) as started:
        yield started


def _move(session: requests.Session, sim: Sim, key: str, transition_id: str, **body: object) -> requests.Response:
    return session.post(f"{_api(sim)}/issue/{key}/transitions", json={"transition": {"id": transition_id}, **body})


def test_linear_workflow_offers_only_neighbours_and_reports_categories(sim: Sim) -> None:
    sim.add_issue("ABC-1")
    session = _session(sim)
    url = f"{_api(sim)}/issue/ABC-1/transitions"
    offered = session.get(url).json()["transitions"]
    assert [(t["id"], t["name"], t["to"]["name"]) for t in offered] == [("11", "Advance to In Progress", "In Progress")]
    assert _move(session, sim, "ABC-1", "31").status_code == 400  # Done is three steps away
    assert _move(session, sim, "ABC-1", "11").status_code == 204
    offered = session.get(url).json()["transitions"]
    assert [(t["to"]["name"], t["to"]["statusCategory"]["key"]) for t in offered] == [
        ("To Do", "new"),
        ("In Review", "indeterminate"),
    ]
    assert _move(session, sim, "ABC-1", "21").status_code == 204
    issue = session.get(f"{_api(sim)}/issue/ABC-1", params={"fields": "status"}).json()
    assert issue["fields"]["status"]["name"] == "In Review"
    assert issue["fields"]["status"]["statusCategory"]["key"] == "indeterminate"
    snapshot = sim.issue("ABC-1")
    assert (snapshot.status, snapshot.status_category) == ("In Review", "indeterminate")
    assert snapshot.transitions_applied == ("Advance to In Progress", "Advance to In Review")


def test_a_required_resolution_is_refused_with_jiras_errors_body(sim: Sim) -> None:
    sim.add_issue("ABC-1", status="In Review")
    session = _session(sim)
    refused = _move(session, sim, "ABC-1", "31")
    assert refused.status_code == 400
    assert refused.json() == {"errorMessages": [], "errors": {"resolution": "Resolution is required."}}
    assert sim.issue("ABC-1").status == "In Review"
    done = _move(session, sim, "ABC-1", "31", fields={"resolution": {"name": "Won't Do"}})
    assert done.status_code == 204
    snapshot = sim.issue("ABC-1")
    assert (snapshot.status, snapshot.status_category, snapshot.resolution) == ("Done", "done", "Won't Do")
    fields = session.get(f"{_api(sim)}/issue/ABC-1", params={"fields": "resolution"}).json()["fields"]
    assert fields["resolution"]["name"] == "Won't Do"


def test_resolution_by_id_and_through_update_set(sim: Sim) -> None:
    sim.add_issue("ABC-1", status="In Review")
    sim.add_issue("ABC-2", status="In Review")
    session = _session(sim)
    assert _move(session, sim, "ABC-1", "31", fields={"resolution": {"id": "10002"}}).status_code == 204
    assert sim.issue("ABC-1").resolution == RESOLUTIONS[2]
    update = {"resolution": [{"set": {"name": "Done"}}]}
    assert _move(session, sim, "ABC-2", "31", update=update).status_code == 204
    assert sim.issue("ABC-2").resolution == "Done"


def test_unknown_resolution_and_fields_off_the_screen_are_refused(sim: Sim) -> None:
    sim.add_issue("ABC-1", status="In Review")
    sim.add_issue("ABC-2")
    session = _session(sim)
    unknown = _move(session, sim, "ABC-1", "31", fields={"resolution": {"name": "Shipped"}})
    assert unknown.status_code == 400 and set(unknown.json()["errors"]) == {"resolution"}
    off_screen = _move(session, sim, "ABC-2", "11", fields={"resolution": {"name": "Done"}})
    assert off_screen.status_code == 400
    assert off_screen.json()["errors"] == {
        "resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."
    }
    assert (sim.issue("ABC-1").status, sim.issue("ABC-2").status) == ("In Review", "To Do")


def test_expand_transitions_fields_shows_the_screen_on_get_issue_and_get_transitions(sim: Sim) -> None:
    sim.add_issue("ABC-1", status="In Review")
    session = _session(sim)
    issue = session.get(f"{_api(sim)}/issue/ABC-1", params={"expand": "transitions.fields"}).json()
    listed = session.get(f"{_api(sim)}/issue/ABC-1/transitions", params={"expand": "transitions.fields"}).json()
    for transitions in (issue["transitions"], listed["transitions"]):
        done = next(t for t in transitions if t["to"]["name"] == "Done")
        back = next(t for t in transitions if t["to"]["name"] == "In Progress")
        assert done["hasScreen"] is True and back["hasScreen"] is False
        resolution = done["fields"]["resolution"]
        assert resolution["required"] is True and resolution["key"] == "resolution"
        assert resolution["schema"] == {"type": "resolution", "system": "resolution"}
        assert [v["name"] for v in resolution["allowedValues"]] == list(RESOLUTIONS)
        assert back["fields"] == {}
    plain = session.get(f"{_api(sim)}/issue/ABC-1/transitions").json()["transitions"]
    assert all("fields" not in t for t in plain)


def test_a_failing_validator_answers_400_with_error_messages(sim: Sim) -> None:
    sim.set_workflow(LINEAR.with_validator("In Review", "A linked build must pass before review."))
    sim.add_issue("ABC-1", status="In Progress")
    session = _session(sim)
    refused = _move(session, sim, "ABC-1", "21")
    assert refused.status_code == 400
    assert refused.json() == {"errorMessages": ["A linked build must pass before review."], "errors": {}}
    assert sim.issue("ABC-1").status == "In Progress"


def test_fail_transitions_refuses_one_issue_only_until_cleared(sim: Sim) -> None:
    for key in ("ABC-1", "ABC-2"):
        sim.add_issue(key, status="In Progress")
    sim.fail_transitions("ABC-1", "Field Fix Version/s is required.", to="In Review")
    session = _session(sim)
    assert _move(session, sim, "ABC-1", "12").status_code == 204  # back to To Do is not refused
    assert _move(session, sim, "ABC-1", "11").status_code == 204
    refused = _move(session, sim, "ABC-1", "21")
    assert refused.status_code == 400 and refused.json()["errorMessages"] == ["Field Fix Version/s is required."]
    assert _move(session, sim, "ABC-2", "21").status_code == 204
    sim.fail_transitions("ABC-1", None, to="In Review")
    assert _move(session, sim, "ABC-1", "21").status_code == 204
    sim.fail_transitions("ABC-2", "Only the assignee can move this issue.")
    assert _move(session, sim, "ABC-2", "22").json()["errorMessages"] == ["Only the assignee can move this issue."]


def test_leaving_done_clears_the_resolution(sim: Sim) -> None:
    sim.add_issue("ABC-1", status="In Review")
    session = _session(sim)
    assert _move(session, sim, "ABC-1", "31", fields={"resolution": {"name": "Done"}}).status_code == 204
    assert _move(session, sim, "ABC-1", "32").status_code == 204
    assert (sim.issue("ABC-1").status, sim.issue("ABC-1").resolution) == ("In Review", None)


def test_drop_transitions_expand_leaves_get_issue_without_transitions(sim: Sim) -> None:
    sim.add_issue("ABC-1")
    session = _session(sim)
    url = f"{_api(sim)}/issue/ABC-1"
    assert "transitions" in session.get(url, params={"expand": "transitions"}).json()
    sim.drop_transitions_expand()
    dropped = session.get(url, params={"expand": "transitions", "fields": "status"}).json()
    assert "transitions" not in dropped and dropped["fields"]["status"]["name"] == "To Do"
    assert session.get(url + "/transitions").json()["transitions"]  # the resource itself still answers
    sim.drop_transitions_expand(False)
    assert "transitions" in session.get(url, params={"expand": "renderedFields,transitions"}).json()


def test_default_workflow_is_unchanged_and_switching_needs_known_statuses() -> None:
    with JiraCloudSimulator() as sim:
        assert sim.workflow == Workflow.default()
        sim.add_issue("ABC-1", status="In Review")
        with pytest.raises(ValueError, match="ABC-1"):
            sim.set_workflow(Workflow.linear([("Open", "new"), ("Closed", "done")]))
        with pytest.raises(ValueError):
            sim.add_issue("ABC-2", status="Open")


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Workflow((("A", "new"), ("A", "done")), ()),
        lambda: Workflow((("A", "new"),), (WorkflowTransition("1", "Go", "B"),)),
        lambda: Workflow((("A", "started"),), ()),
        lambda: Workflow(
            (("A", "new"), ("B", "done")), (WorkflowTransition("1", "x", "B"), WorkflowTransition("1", "y", "A"))
        ),
        lambda: Workflow.default().with_screen("Closed", RESOLUTION),
    ],
)
def test_inconsistent_workflows_are_refused(bad: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        bad()


def test_global_transitions_and_free_text_screen_fields() -> None:
    comment = ScreenField("customfield_10010", "Reason", required=True)
    workflow = Workflow(
        (("Open", "new"), ("Closed", "done")),
        (WorkflowTransition("99", "Close", "Closed", None, (comment,)), WorkflowTransition("5", "Reopen", "Open")),
    )
    assert [t.id for t in workflow.available("Open")] == ["99"]
    assert [t.id for t in workflow.available("Closed")] == ["5"]
    with JiraDataCenterSimulator(workflow=workflow) as sim:
        sim.add_issue("OPS-1", status="Open")
        session = _session(sim)
        missing = _move(session, sim, "OPS-1", "99")
        assert missing.json()["errors"] == {"customfield_10010": "Reason is required."}
        listed = session.get(f"{_api(sim)}/issue/OPS-1/transitions", params={"expand": "transitions.fields"}).json()
        assert listed["transitions"][0]["isGlobal"] is True
        assert "allowedValues" not in listed["transitions"][0]["fields"]["customfield_10010"]
        assert _move(session, sim, "OPS-1", "99", fields={"customfield_10010": "duplicate"}).status_code == 204
        assert (sim.issue("OPS-1").status, sim.issue("OPS-1").resolution) == ("Closed", None)
