"""The release service against the simulators of both flavors, over real HTTP."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from release_history import COMMITS_IN_RANGE, IN_RANGE, SKIPPED, History, seed_history

from jirabucket.errors import ConfigError
from jirabucket.queue import set_testing
from jirabucket.testing import Faults
from syncworld import make_world


def test_a_release_tags_the_issues_of_the_range_and_creates_the_missing_version(history: History) -> None:
    jira = history.world.jira
    ops_version = jira.versions("OPS")[0].id
    report = history.release()
    assert report.ok, report.failed
    assert report.commits == COMMITS_IN_RANGE
    assert report.issues == IN_RANGE
    assert report.skipped_keys == SKIPPED  # ABC-999 unknown; XYZ-1 and UTF-8 are not configured projects
    assert report.created_versions == ("ABC",) and report.released_versions == ()
    assert report.updated_issues == IN_RANGE
    assert [v.name for v in jira.versions("ABC")] == ["1.0", "1.0.x", "1.1"]
    assert [(v.id, v.name) for v in jira.versions("OPS")] == [(ops_version, "1.1")]  # reused, not created
    assert [v.id for v in report.versions] == [jira.versions("ABC")[2].id, ops_version]
    for key in IN_RANGE:
        assert "1.1" in jira.issue(key).fix_versions
    assert jira.issue("ABC-3").fix_versions == ("1.0.x", "1.1")  # the other fixVersion kept
    assert jira.issue("ABC-1").fix_versions == ("1.0",)  # before the range: untouched
    # The writes: one version created (project read + POST), one PUT per issue; Bitbucket only read.
    writes = sorted((r.method, r.path.rsplit("/", 1)[-1]) for r in history.jira_writes())
    assert writes == [("POST", "version")] + [("PUT", key) for key in IN_RANGE]
    assert history.bitbucket_writes() == []
    assert len(history.world.bitbucket.requests) == 1  # one page of commits
    assert report.requests == len(history.world.jira.requests) + len(history.world.bitbucket.requests)


def test_a_second_identical_run_writes_nothing(history: History) -> None:
    first = history.release(released=True, release_date=date(2026, 4, 1))
    assert first.ok and first.updated_issues == IN_RANGE
    history.clear_requests()
    again = history.release(released=True, release_date=date(2026, 4, 1))
    assert again.ok
    assert (again.created_versions, again.released_versions, again.updated_issues, again.plan) == ((), (), (), ())
    assert history.jira_writes() == [] and history.bitbucket_writes() == []
    # Reads only: the commits, one look-up, each project's versions.
    assert len(history.world.bitbucket.requests) == 1 and len(history.world.jira.requests) == 1 + 2
    assert again.issues == first.issues and again.notes == first.notes


def test_tags_branches_and_hashes_name_the_same_range(history: History) -> None:
    by_tags = history.release(dry_run=True)
    assert (by_tags.commits, by_tags.issues, by_tags.skipped_keys) == (COMMITS_IN_RANGE, IN_RANGE, SKIPPED)
    from_hash = history.hashes["abc1"][:12]
    by_hashes = history.release(from_ref=from_hash, to_ref=history.hashes["abc5"], dry_run=True)
    by_branch = history.release(from_ref=history.hashes["abc1"], to_ref="main", dry_run=True)
    by_full_refs = history.release(from_ref="refs/tags/v1.0", to_ref="refs/heads/main", dry_run=True)
    for other in (by_hashes, by_branch, by_full_refs):
        assert (other.commits, other.issues, other.skipped_keys) == (COMMITS_IN_RANGE, IN_RANGE, SKIPPED)
    assert by_hashes.from_ref == from_hash and f"`{from_hash}`" in by_hashes.notes


def test_a_merge_commit_counts_once_and_brings_its_pull_request_title_keys(history: History) -> None:
    log = history.world.bitbucket.log(history.repo, "v1.1", exclude="v1.0")
    merges = [c for c in log if len(c.parents) == 2]
    assert len(merges) == 1 and "ABC-4" in merges[0].message
    assert not any("ABC-4" in c.message for c in log if c not in merges)  # only the merge names it
    report = history.release(dry_run=True)
    assert report.commits == len(log) == COMMITS_IN_RANGE
    assert "ABC-4" in report.issues
    only_merge = history.release(from_ref=history.hashes["abc3b"], to_ref=history.hashes["merge"], dry_run=True)
    assert only_merge.commits == 2  # the merge and ABC-2 (on main, not in feature/login)
    assert only_merge.issues == ("ABC-2", "ABC-4")


def test_a_dry_run_plans_every_write_and_sends_none(history: History) -> None:
    report = history.release(released=True, release_date=date(2026, 4, 1), dry_run=True)
    assert report.dry_run and report.ok
    assert [(w.action, w.target, w.detail) for w in report.plan] == [
        ("create version", "ABC", "1.1, released 2026-04-01"),
        ("release version", "OPS", "1.1, released 2026-04-01"),
        *[("add fixVersion", key, "1.1") for key in IN_RANGE],
    ]
    assert (report.created_versions, report.released_versions, report.updated_issues) == ((), (), ())
    assert history.jira_writes() == [] and history.bitbucket_writes() == []
    assert [v.name for v in history.world.jira.versions("ABC")] == ["1.0", "1.0.x"]
    assert history.world.jira.issue("ABC-3").fix_versions == ("1.0.x",)
    # The versions as they stand: ABC's not created yet, OPS's not released.
    shown = [(v.project, v.id == "", v.released) for v in report.versions]
    assert shown == [("ABC", True, True), ("OPS", False, False)]


def test_released_with_a_date_creates_or_releases_and_a_new_date_moves_it(history: History) -> None:
    jira = history.world.jira
    report = history.release(released=True, release_date=date(2026, 4, 1))
    assert report.created_versions == ("ABC",) and report.released_versions == ("OPS",)
    for project in ("ABC", "OPS"):
        version = next(v for v in jira.versions(project) if v.name == "1.1")
        assert (version.released, version.release_date) == (True, date(2026, 4, 1))
    assert [(v.released, v.release_date) for v in report.versions] == [(True, date(2026, 4, 1))] * 2
    history.clear_requests()
    moved = history.release(released=True, release_date=date(2026, 4, 3))
    assert moved.released_versions == ("ABC", "OPS") and moved.updated_issues == ()
    assert [r.method for r in history.jira_writes()] == ["PUT", "PUT"]
    assert all(v.release_date == date(2026, 4, 3) for v in jira.versions("OPS"))


def test_released_without_a_date_is_today_and_a_later_run_leaves_the_date_alone(history: History) -> None:
    jira = history.world.jira
    jira.add_version("ABC", "1.1", released=True, release_date=date(2026, 1, 2))
    before = date.today()
    report = history.release(released=True)
    after = date.today()
    ops = jira.versions("OPS")[0]
    assert ops.released and ops.release_date in {before, after}
    assert report.released_versions == ("OPS",)  # ABC's was released already, on its own date
    assert next(v for v in jira.versions("ABC") if v.name == "1.1").release_date == date(2026, 1, 2)


def test_an_existing_version_is_reused_whatever_its_case(history: History) -> None:
    history.world.jira.add_version("ABC", "Release-7")
    report = history.release(version="release-7")
    assert report.ok and report.created_versions == ("OPS",)  # OPS had none: created as asked
    assert [v.name for v in history.world.jira.versions("ABC")] == ["1.0", "1.0.x", "Release-7"]
    assert history.world.jira.issue("ABC-3").fix_versions == ("1.0.x", "Release-7")
    assert history.world.jira.issue("OPS-2").fix_versions == ("release-7",)
    assert [v.name for v in report.versions] == ["Release-7", "release-7"]


def test_only_the_projects_asked_for(history: History) -> None:
    report = history.release(projects=["ops"])
    assert report.issues == ("OPS-2",) and report.skipped_keys == ()
    assert [v.project for v in report.versions] == ["OPS"]
    assert [v.name for v in history.world.jira.versions("ABC")] == ["1.0", "1.0.x"]


def test_unknown_keys_are_skipped_and_listed_not_failed(history: History) -> None:
    bb = history.world.bitbucket
    bb.add_commit(history.repo, "ABC-404 and OPS-404: ghosts, and ABC-5 again")
    report = history.release(from_ref="v1.1", to_ref="main")
    assert report.ok and report.commits == 1
    assert report.issues == ("ABC-5",) and report.skipped_keys == ("ABC-404", "OPS-404")
    assert report.created_versions == ("ABC",)  # OPS has no issue in this range: its version is not needed
    assert [w.target for w in report.plan] == ["ABC", "ABC-5"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"to_ref": "v9.9"}, "--to 'v9.9' is not a tag, branch or commit of {repo}"),
        ({"from_ref": "v0.9"}, "--from 'v0.9' is not a tag, branch or commit of {repo}"),
        ({"from_ref": "deadbeefdeadbeef"}, "--from 'deadbeefdeadbeef' is not a tag, branch or commit"),
        ({"repo": "{other}"}, "no repository {other} at"),
    ],
)
def test_an_unknown_ref_or_repository_is_a_config_error_naming_it(
    history: History, options: dict[str, str], named: str
) -> None:
    other = "acme/nope" if history.world.flavor == "cloud" else "ACME/nope"
    options = {k: v.format(other=other) for k, v in options.items()}
    with pytest.raises(ConfigError) as caught:
        history.release(**options)
    assert named.format(repo=history.repo, other=other) in str(caught.value)
    assert history.jira_writes() == [] and history.world.jira.requests == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"version": "  "}, "version name must be 1 to 255 characters"),
        ({"release_date": date(2026, 4, 1)}, "a release date goes with --released"),
        ({"projects": ["abc-1"]}, "ABC-1 is not a Jira project key"),
        ({"from_ref": ""}, "--from needs a tag, branch or commit hash"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    history: History, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        history.release(**options)
    assert history.world.jira.requests == [] and history.world.bitbucket.requests == []


def test_an_empty_range_writes_nothing_and_says_so_in_the_notes(history: History) -> None:
    report = history.release(from_ref="v1.1", to_ref="v1.1")
    assert (report.commits, report.issues, report.plan) == (0, (), ())
    assert "No Jira issues in this range." in report.notes
    assert history.world.jira.requests == []


def test_the_notes_group_the_issues_by_type_with_links_summaries_and_statuses(history: History) -> None:
    report = history.release()
    url = history.world.jira.url
    assert report.notes == (
        f"# Release 1.1: v1.0 → v1.1\n"
        f"\n"
        f"Jira issues named by the commits of {history.repo} after `v1.0` up to `v1.1`.\n"
        f"\n"
        f"## Story\n"
        f"\n"
        f"- [ABC-3]({url}/browse/ABC-3): Login page (In Review)\n"
        f"- [ABC-4]({url}/browse/ABC-4): Log in with SSO (Done)\n"
        f"\n"
        f"## Task\n"
        f"\n"
        f"- [ABC-5]({url}/browse/ABC-5): Read UTF-8 names (In Progress)\n"
        f"\n"
        f"## Bug\n"
        f"\n"
        f"- [ABC-2]({url}/browse/ABC-2): Fix the typo (Done)\n"
        f"- [OPS-2]({url}/browse/OPS-2): Rotate the keys (Done)\n"
    )


def test_a_lost_answer_to_creating_the_version_is_looked_up_not_repeated(tmp_path: Path) -> None:
    # Data Center: its look-up is a GET, so the only POST is the version's; it is applied, then the
    # connection drops before the answer (OutcomeUnknown: never sent twice).
    with make_world(tmp_path, flavor="datacenter", prs=0) as world:
        history = seed_history(world)
        world.jira.set_faults(Faults(reset_after_write_rate=1.0, methods=frozenset({"POST"})))
        report = history.release()
    assert report.ok, report.failed
    assert report.created_versions == ("ABC",) and report.updated_issues == IN_RANGE
    assert [v.name for v in world.jira.versions("ABC")].count("1.1") == 1
    assert len([r for r in world.jira.requests if r.method == "POST"]) == 1


def test_a_write_that_fails_for_good_is_listed_and_the_others_go_on(tmp_path: Path) -> None:
    set_testing(True)  # retries computed, not waited
    try:
        with make_world(tmp_path, flavor="cloud", prs=0) as world:
            history = seed_history(world)
            world.jira.set_faults(Faults(error_rate=1.0, methods=frozenset({"PUT"})))
            report = history.release()
    finally:
        set_testing(False)
    assert not report.ok
    assert report.created_versions == ("ABC",) and report.updated_issues == ()
    assert sorted(f.target for f in report.failed) == list(IN_RANGE)
    assert {f.operation for f in report.failed} == {"jira.add_fix_version"}
    assert all("503" in f.error for f in report.failed)
    assert report.notes.count("/browse/") == len(IN_RANGE)  # the notes are complete anyway
