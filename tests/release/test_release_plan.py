"""The release plan: which versions to create or release and which issues to update, decided without requests."""

from __future__ import annotations

from datetime import date

from jirabucket.models import Issue, Version
from jirabucket.release import find_version, plan_release, version_step

TODAY = date(2026, 4, 2)


def issue(key: str, *fix_versions: str) -> Issue:
    return Issue(key, f"Summary of {key}", "Done", "done", key.split("-", maxsplit=1)[0], "Task", fix_versions)


def version(name: str, *, released: bool = False, on: date | None = None, vid: str = "1") -> Version:
    return Version(vid, name, released, on, "ABC")


def test_a_missing_version_is_created_released_today_or_on_the_date_given() -> None:
    plain = version_step("ABC", "2.0", [], released=False, release_date=None, today=TODAY)
    assert (plain.action, plain.existing, plain.released, plain.release_date) == ("create", None, False, None)
    created = version_step("ABC", "2.0", [version("1.0")], released=True, release_date=None, today=TODAY)
    assert (created.action, created.released, created.release_date) == ("create", True, TODAY)
    dated = version_step("ABC", "2.0", [], released=True, release_date=date(2026, 5, 1), today=TODAY)
    assert dated.release_date == date(2026, 5, 1)


def test_an_existing_version_is_kept_released_or_re_dated_but_never_un_released() -> None:
    open_version = version("2.0", vid="7")
    done = version("2.0", released=True, on=date(2026, 1, 1), vid="7")

    def action(existing: Version, *, released: bool, when: date | None = None) -> tuple[str, bool, date | None]:
        step = version_step("ABC", "2.0", [existing], released=released, release_date=when, today=TODAY)
        assert step.existing is existing
        return step.action, step.released, step.release_date

    assert action(open_version, released=False) == ("keep", False, None)
    assert action(open_version, released=True) == ("release", True, TODAY)
    assert action(done, released=False) == ("keep", True, date(2026, 1, 1))  # never un-released
    assert action(done, released=True) == ("keep", True, date(2026, 1, 1))  # a later run keeps the date
    assert action(done, released=True, when=date(2026, 1, 1)) == ("keep", True, date(2026, 1, 1))
    assert action(done, released=True, when=date(2026, 1, 3)) == ("release", True, date(2026, 1, 3))


def test_a_version_is_found_by_exact_name_first_then_ignoring_case() -> None:
    exact, other_case = version("RC-1", vid="1"), version("rc-1", vid="2")
    assert find_version([other_case, exact], "RC-1") is exact
    assert find_version([other_case], "RC-1") is other_case
    assert find_version([version("RC-10")], "RC-1") is None
    step = version_step("ABC", "RC-1", [other_case], released=False, release_date=None, today=TODAY)
    assert (step.action, step.name) == ("keep", "rc-1")  # Jira's spelling is the one issues get


def test_only_issues_without_the_version_are_updated_and_each_project_gets_one_step() -> None:
    issues = [issue("OPS-2"), issue("ABC-10", "1.0", "2.0"), issue("ABC-9", "1.0"), issue("ABC-11", "2.0x")]
    plan = plan_release(
        issues, {"ABC": [version("1.0"), version("2.0", vid="2")], "OPS": []}, name="2.0", released=False,
        release_date=None, today=TODAY,
    )
    assert [(s.project, s.action) for s in plan.versions] == [("ABC", "keep"), ("OPS", "create")]
    assert [i.key for i in plan.updates] == ["ABC-9", "ABC-11", "OPS-2"]  # by project, then number
    assert [(w.action, w.target, w.detail) for w in plan.writes()] == [
        ("create version", "OPS", "2.0"),
        ("add fixVersion", "ABC-9", "2.0"),
        ("add fixVersion", "ABC-11", "2.0"),
        ("add fixVersion", "OPS-2", "2.0"),
    ]


def test_everything_in_place_plans_no_write() -> None:
    plan = plan_release(
        [issue("ABC-1", "2.0")], {"ABC": [version("2.0", released=True, on=TODAY)]}, name="2.0", released=True,
        release_date=TODAY, today=TODAY,
    )
    assert plan.writes() == () and plan.updates == ()
    assert plan_release([], {}, name="2.0", released=True, release_date=None, today=TODAY).writes() == ()
