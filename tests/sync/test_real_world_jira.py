"""What real Jira servers do to a sync's transitions: screens, validators, long workflows, dropped expansions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jirabucket.testing import RESOLUTION, Workflow
from syncworld import World, make_world


@pytest.fixture(params=["cloud", "datacenter"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with make_world(tmp_path, flavor=request.param, prs=0) as w:
        repos = ("acme/api", "acme/web") if w.flavor == "cloud" else ("ACME/api", "ACME/web")
        for repo in repos:
            w.bitbucket.add_repository(repo)
        w.jira.set_workflow(Workflow.linear(screens={"Done": (RESOLUTION,)}))
        yield w


RESOLUTION_FIELDS = 'merged = "Done"\n\n[sync.transition_fields.merged]\nresolution = { name = "Done" }\n'


def repo(world: World) -> str:
    return "acme/api" if world.flavor == "cloud" else "ACME/api"


def test_required_resolution_is_a_warning_in_jiras_words_then_configured_fields_pass(world: World) -> None:
    world.jira.add_issue("ABC-1", status="In Review")
    world.bitbucket.add_pull_request(repo(world), title="ABC-1 ship it", source_branch="a", state="MERGED")
    code, doc = world.sync()
    assert code == 0 and doc["failed"] == []
    assert world.jira.issue("ABC-1").status == "In Review"
    assert [w for w in doc["warnings"] if "ABC-1" in w and "Resolution is required." in w and "Done" in w]
    # The cursor moved on: the next run does not retry it by itself; a PR update with the field configured does.
    world.configure('merged = "Done"', RESOLUTION_FIELDS)
    world.bitbucket.update_pull_request(repo(world), 1, title="ABC-1 ship it (again)")
    code, doc = world.sync()
    assert code == 0 and doc["warnings"] == [], doc
    snap = world.jira.issue("ABC-1")
    assert (snap.status, snap.resolution) == ("Done", "Done")


def test_target_three_steps_away_is_walked_and_reported_as_one_transition(world: World) -> None:
    world.jira.add_issue("ABC-2", status="To Do")
    world.configure('merged = "Done"', RESOLUTION_FIELDS)
    world.bitbucket.add_pull_request(repo(world), title="ABC-2 all at once", source_branch="b", state="MERGED")
    code, doc = world.sync()
    assert code == 0 and doc["warnings"] == [], doc
    assert world.jira.issue("ABC-2").status == "Done"
    assert doc["transitions"] == 1
    assert doc["moves"] == ["ABC-2: To Do -> In Progress -> In Review -> Done"]


def test_a_failing_validator_is_a_warning_and_the_run_goes_on(world: World) -> None:
    world.jira.set_workflow(Workflow.linear().with_validator("In Review", "Only developers can review."))
    world.jira.add_issue("ABC-3", status="In Progress")
    world.jira.add_issue("ABC-4", status="To Do")
    world.bitbucket.add_pull_request(repo(world), title="ABC-3 review me", source_branch="c")
    world.bitbucket.add_pull_request(repo(world), title="ABC-4 start", source_branch="d")
    code, doc = world.sync()
    assert code == 0 and doc["failed"] == []
    assert [w for w in doc["warnings"] if "ABC-3" in w and "Only developers can review." in w]
    assert world.jira.issue("ABC-3").status == "In Progress"


def test_server_that_drops_the_transitions_expansion_still_moves_issues(world: World) -> None:
    world.jira.drop_transitions_expand()
    world.jira.add_issue("ABC-5", status="To Do")
    world.bitbucket.add_pull_request(repo(world), title="ABC-5 start", source_branch="e")
    code, doc = world.sync()
    assert code == 0 and doc["warnings"] == [], doc
    assert world.jira.issue("ABC-5").status == "In Review"
    assert any(r.path.endswith("/ABC-5/transitions") and r.method == "GET" for r in world.jira.requests)
