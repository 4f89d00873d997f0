"""Which PR may move which issue, and where: the rules people expect of a Jira-Bitbucket integration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncworld import World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with make_world(tmp_path, flavor="cloud", prs=0) as w:
        w.bitbucket.add_repository("acme/api")
        w.bitbucket.add_repository("acme/web")
        yield w


def test_only_keys_in_title_or_branch_move_issues(world: World) -> None:
    world.jira.add_issue("ABC-5", status="To Do")
    world.jira.add_issue("ABC-6", status="To Do")
    world.jira.add_issue("ABC-7", status="To Do")
    world.configure('open = "In Review"', 'open = "In Progress"')
    world.bitbucket.add_pull_request(
        "acme/api", title="ABC-5 fix login", description="see ABC-6", source_branch="fix", commits=["ABC-7 typo"]
    )
    code, doc = world.sync()
    assert code == 0, doc
    assert world.jira.issue("ABC-5").status == "In Progress"
    for mentioned in ("ABC-6", "ABC-7"):  # linked and commented, never moved
        snap = world.jira.issue(mentioned)
        assert (snap.status, len(snap.remote_links), len(snap.comments)) == ("To Do", 1, 1)
    assert doc["transitions"] == 1


def test_description_keys_move_issues_when_configured(world: World) -> None:
    world.jira.add_issue("ABC-6", status="To Do")
    world.configure('open = "In Review"', 'open = "In Progress"')
    world.configure("comment = true", 'comment = true\ntransition_keys_from = ["title", "branch", "description"]')
    world.bitbucket.add_pull_request("acme/api", title="fix login", description="Fixes ABC-6", source_branch="fix")
    assert world.sync()[0] == 0
    assert world.jira.issue("ABC-6").status == "In Progress"


@pytest.mark.parametrize("ignore_case", [False, True])
def test_lower_case_branch_keys_only_when_asked(world: World, ignore_case: bool) -> None:
    world.jira.add_issue("ABC-123", status="To Do")
    if ignore_case:
        world.configure("comment = true", "comment = true\nbranch_keys_ignore_case = true")
    world.bitbucket.add_pull_request("acme/api", title="Login page", source_branch="feature/abc-123-login")
    assert world.sync()[0] == 0
    snap = world.jira.issue("ABC-123")
    assert len(snap.remote_links) == (1 if ignore_case else 0)
    assert snap.status == ("In Review" if ignore_case else "To Do")


@pytest.mark.parametrize("reopen", [False, True])
def test_done_issue_is_not_moved_back_by_an_open_pr_unless_reopen(world: World, reopen: bool) -> None:
    world.jira.add_issue("ABC-9", status="Done")
    world.configure('open = "In Review"', 'open = "To Do"')  # Done -> To Do is one step ("Reopen")
    if reopen:
        world.configure("comment = true", "comment = true\nreopen = true")
    world.bitbucket.add_pull_request("acme/api", title="ABC-9 follow-up", source_branch="f")
    code, doc = world.sync()
    assert code == 0 and doc["warnings"] == []
    snap = world.jira.issue("ABC-9")
    assert snap.status == ("To Do" if reopen else "Done")
    assert len(snap.remote_links) == 1  # linked either way


def test_declined_pr_does_not_move_an_issue_another_pr_still_works_on(world: World) -> None:
    world.jira.add_issue("ABC-1", status="In Review")
    world.jira.add_issue("ABC-2", status="In Review")
    world.configure('merged = "Done"', 'merged = "Done"\ndeclined = "In Progress"')
    world.bitbucket.add_pull_request("acme/api", title="ABC-1 first try", source_branch="a", state="OPEN")
    assert world.sync()[0] == 0
    # The first try is declined later, while a second PR for ABC-1 is open; ABC-2's only PR is declined.
    world.bitbucket.add_pull_request("acme/web", title="ABC-1 second try", source_branch="b", state="OPEN")
    world.bitbucket.add_pull_request("acme/api", title="ABC-2 abandoned", source_branch="c", state="DECLINED")
    world.bitbucket.update_pull_request("acme/api", 1, state="DECLINED")
    code, doc = world.sync()
    assert code == 0, doc
    assert world.jira.issue("ABC-1").status == "In Review"
    assert world.jira.issue("ABC-2").status == "In Progress"
