"""``jirabucket check-pr``, the CI gate, and ``sync --pr``, through the simulators of both flavors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jirabucket.cli import main
from syncworld import World, make_world

CHECK_PR = """
[check_pr]
statuses = ["To Do", "In Progress", "In Review"]
skip_authors = ["renovate[bot]"]
skip_branches = ["release/*"]
"""


@pytest.fixture(params=["cloud", "datacenter"])
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with make_world(tmp_path, flavor=request.param, prs=0) as w:
        w.config.write_text(w.config.read_text() + CHECK_PR)
        for name, value in w.env.items():
            monkeypatch.setenv(name, value)
        w.bitbucket.add_repository(repo_of(w))
        w.jira.add_issue("ABC-12", summary="Login", status="In Progress")
        w.jira.add_issue("ABC-13", summary="Old", status="Done")
        yield w


def repo_of(world: World) -> str:
    return "acme/api" if world.flavor == "cloud" else "ACME/api"


def add_pr(world: World, **fields: Any) -> int:
    fields.setdefault("source_branch", "feature/x")
    return world.bitbucket.add_pull_request(repo_of(world), **fields)


def gate(world: World, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    world.jira.clear_requests()
    world.bitbucket.clear_requests()
    code = main(["check-pr", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def no_writes(world: World) -> bool:
    reads = ("/bulkfetch", "/search/jql", "/search")
    return not [r for r in world.jira.requests + world.bitbucket.requests if r.is_write and not r.path.endswith(reads)]


def test_good_key_passes_with_one_read_and_one_search(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    pr = add_pr(world, title="ABC-12: fix login")
    code, doc = gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr))
    assert code == 0, doc
    assert doc["ok"] is True and doc["keys"] == ["ABC-12"] and doc["problems"] == []
    assert doc["pull_request"]["repo"] == repo_of(world) and doc["pull_request"]["id"] == pr
    assert doc["pull_request"]["url"].endswith(str(pr)) or str(pr) in doc["pull_request"]["url"]
    assert len(world.bitbucket.requests) == 1
    assert len(world.jira.requests) == 1
    assert no_writes(world)


@pytest.mark.parametrize(
    ("title", "branch", "problem"),
    [
        ("Fix login", "feature/login", "no Jira issue key (ABC, OPS) in its title or branch"),
        ("ABC-9999: ghost", "feature/x", "ABC-9999 does not exist in Jira"),
        ("ABC-13: follow-up", "feature/x", "ABC-13 is in status 'Done', not one of the allowed"),
    ],
)
def test_each_problem_fails_with_one_line_naming_the_pr(
    world: World, capsys: pytest.CaptureFixture[str], title: str, branch: str, problem: str
) -> None:
    pr = add_pr(world, title=title, source_branch=branch)
    code, doc = gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr))
    assert code == 1
    assert doc["ok"] is False and doc["keys"] == []
    assert len(doc["problems"]) == 1
    assert doc["problems"][0].startswith(f"{repo_of(world)}#{pr}: ")
    assert problem in doc["problems"][0]
    assert len(world.bitbucket.requests) == 1 and len(world.jira.requests) <= 1
    assert no_writes(world)
    assert main(["check-pr", "--warn-only", "--repo", repo_of(world), "--pr", str(pr)]) == 0
    assert problem in capsys.readouterr().out


def test_key_in_branch_counts(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    pr = add_pr(world, title="Fix login", source_branch="feature/ABC-12-login")
    assert gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr))[1]["keys"] == ["ABC-12"]


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"title": "Bump lib", "author": "renovate[bot]"}, "author 'renovate[bot]' is in skip_authors"),
        ({"title": "Release 1.2", "source_branch": "release/1.2"}, "branch 'release/1.2' matches 'release/*'"),
    ],
)
def test_bots_and_release_branches_are_skipped(
    world: World, capsys: pytest.CaptureFixture[str], fields: dict[str, Any], why: str
) -> None:
    pr = add_pr(world, **fields)
    code, doc = gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr))
    assert code == 0
    assert doc["ok"] is True and why in doc["skipped"]
    assert world.jira.requests == []


def test_pipeline_variables_name_the_pr(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pr = add_pr(world, title="ABC-12 fix")
    monkeypatch.setenv("BITBUCKET_REPO_FULL_NAME", repo_of(world))
    monkeypatch.setenv("BITBUCKET_PR_ID", str(pr))
    code, doc = gate(world, capsys)
    assert (code, doc["keys"]) == (0, ["ABC-12"])


def test_without_flags_or_variables_says_what_to_pass(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-pr"]) == 2
    err = capsys.readouterr().err
    assert "pass --repo" in err and "BITBUCKET_PR_ID" in err
    assert world.bitbucket.requests == []


def test_sync_pr_syncs_one_pr_and_leaves_the_cursor(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "acme/web" if world.flavor == "cloud" else "ACME/web"
    world.bitbucket.add_repository(other)
    world.jira.add_issue("ABC-14", status="To Do")
    first = add_pr(world, title="ABC-14 older work")
    assert main(["sync", "--quiet"]) == 0  # the cursor now stands after the first PR
    world.bitbucket.add_pull_request(other, title="ABC-12 other repo", source_branch="b")
    pr = add_pr(world, title="ABC-12 new work", source_branch="feature/ABC-12")
    monkeypatch.setenv("BITBUCKET_PR_ID", str(pr))
    monkeypatch.setenv("BITBUCKET_REPO_FULL_NAME", repo_of(world))
    assert main(["sync", "--pr", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["pull_requests"], doc["links_created"]) == (1, 1)
    assert world.jira.issue("ABC-12").status == "In Review"
    assert len(world.jira.issue("ABC-12").remote_links) == 1
    # The plain sync afterwards still does the rest (the other repository's PR), with no duplicates.
    assert main(["sync", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # It read both PRs updated since the cursor: sync --pr had left the cursor where it was.
    assert (doc["pull_requests"], doc["links_created"], doc["comments_added"]) == (2, 1, 1)
    snap = world.jira.issue("ABC-12")
    assert len(snap.remote_links) == 2 and len(snap.comments) == 2
    assert first == 1


def test_report_status_writes_one_build_status_on_the_head_commit_and_overwrites_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = add_pr(world, title="ABC-12: fix login", source_branch="feature/login")
    head = world.bitbucket.pull_request(repo_of(world), pr).source_commit
    code, doc = gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr), "--report-status")
    assert (code, doc["status_reported"]) == (0, True)
    [status] = world.bitbucket.build_statuses(repo_of(world), head)
    assert (status.key, status.state) == ("jirabucket", "SUCCESSFUL")
    assert status.url.endswith("/browse/ABC-12")
    writes = [r for r in world.bitbucket.requests if r.is_write]
    assert len(writes) == 1 and len(world.bitbucket.requests) == 2  # one read of the PR, one status
    # The title loses its key: the same status key now says FAILED (overwritten, not added).
    world.bitbucket.update_pull_request(repo_of(world), pr, title="fix login")
    code, doc = gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr), "--report-status")
    assert code == 1
    [status] = world.bitbucket.build_statuses(repo_of(world), head)
    assert status.state == "FAILED" and "no Jira issue key" in status.description


def test_no_status_is_written_without_report_status(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    pr = add_pr(world, title="no key here")
    head = world.bitbucket.pull_request(repo_of(world), pr).source_commit
    assert gate(world, capsys, "--repo", repo_of(world), "--pr", str(pr))[0] == 1
    assert world.bitbucket.build_statuses(repo_of(world), head) == ()
    assert no_writes(world)
