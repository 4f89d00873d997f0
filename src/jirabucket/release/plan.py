"""What a release writes, decided from what Jira holds now: pure logic, no requests.

Given the issues that went into a release and the versions their projects
have, :func:`plan_release` says, per project, whether version ``NAME`` must be
created, marked released, or left alone, and which issues still lack it as a
fixVersion. Everything already in place is left out, which is what makes a
second identical run write nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from jirabucket.models import Issue, Version

__all__ = [
    "PlannedWrite",
    "ReleasePlan",
    "VersionAction",
    "VersionStep",
    "find_version",
    "key_order",
    "plan_release",
    "version_step",
]

#: What happens to version ``NAME`` in one project.
VersionAction = Literal["create", "release", "keep"]


@dataclass(frozen=True, slots=True)
class VersionStep:
    """Version ``NAME`` in one project: what exists and what to do about it.

    Attributes:
        project: The project key.
        name: The version's name as Jira spells it (an existing version's own spelling wins).
        action: ``create`` (none exists), ``release`` (mark it released or change its
            release date) or ``keep`` (nothing to write).
        existing: The version found, or ``None``.
        released: Whether it is (or will be) released.
        release_date: Its release date after the step, if any.
    """

    project: str
    name: str
    action: VersionAction
    existing: Version | None
    released: bool
    release_date: date | None


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """One write the release makes (or, on a dry run, would make).

    Attributes:
        action: ``create version``, ``release version`` or ``add fixVersion``.
        target: The project (for a version) or the issue key.
        detail: The version name, and whether and when it is released.
    """

    action: str
    target: str
    detail: str

    def to_json(self) -> dict[str, str]:
        """Return the write as a JSON object."""
        return {"action": self.action, "target": self.target, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ReleasePlan:
    """Every write a release needs, in the order they must happen (versions before issues).

    Attributes:
        versions: One step per project that has issues in the release, by project key.
        updates: The issues that lack the version as a fixVersion, ordered by key.
    """

    versions: tuple[VersionStep, ...]
    updates: tuple[Issue, ...]

    def writes(self) -> tuple[PlannedWrite, ...]:
        """Return the writes, one per version created or released and one per issue updated."""
        steps = [
            PlannedWrite(f"{step.action} version", step.project, _describe(step))
            for step in self.versions
            if step.action != "keep"
        ]
        names = {step.project: step.name for step in self.versions}
        issues = [PlannedWrite("add fixVersion", issue.key, names[issue.project]) for issue in self.updates]
        return (*steps, *issues)


def find_version(versions: Iterable[Version], name: str) -> Version | None:
    """Return the version called ``name``: the exact name, else one differing only in case.

    Jira refuses a second version whose name differs only in case, so such a
    version is the one to reuse.
    """
    listed = list(versions)
    exact = next((v for v in listed if v.name == name), None)
    return exact or next((v for v in listed if v.name.casefold() == name.casefold()), None)


def plan_release(
    issues: Iterable[Issue],
    versions: Mapping[str, Sequence[Version]],
    *,
    name: str,
    released: bool,
    release_date: date | None,
    today: date,
) -> ReleasePlan:
    """Decide the writes that give ``issues`` the fixVersion ``name``.

    Args:
        issues: The issues of the release (each project among them needs the version).
        versions: Each of those projects' versions, by project key.
        name: The version's name.
        released: Mark the version released.
        release_date: The release date; ``today`` when ``released`` and none is given.
        today: Today's date (passed in, so the decision is testable).

    Returns:
        The plan: a version step per project, and the issues to update.

    Raises:
        KeyError: ``versions`` lacks a project of ``issues``.
    """
    issues = sorted(issues, key=lambda issue: key_order(issue.key))
    projects = sorted({issue.project for issue in issues})
    steps = {
        project: version_step(project, name, versions[project], released=released, release_date=release_date,
                               today=today)
        for project in projects
    }
    updates = tuple(issue for issue in issues if steps[issue.project].name not in issue.fix_versions)
    return ReleasePlan(tuple(steps[p] for p in projects), updates)


def version_step(
    project: str, name: str, versions: Sequence[Version], *, released: bool, release_date: date | None, today: date
) -> VersionStep:
    """Decide what to do with version ``name`` in ``project``, given the project's ``versions`` now.

    Args:
        project: The project key.
        name: The version's name (an existing version differing only in case is reused).
        versions: The project's versions.
        released: Mark the version released.
        release_date: The release date; ``today`` when ``released`` and none is given.
        today: Today's date.
    """
    existing = find_version(versions, name)
    if existing is None:
        when = (release_date or today) if released else None
        return VersionStep(project, name, "create", None, released, when)
    # Never un-release, and never move a release date nobody asked to change: a re-run on a
    # later day (no --release-date) finds the version released and leaves it alone.
    stale = not existing.released or (release_date is not None and existing.release_date != release_date)
    if released and stale:
        return VersionStep(project, existing.name, "release", existing, True, release_date or today)
    return VersionStep(project, existing.name, "keep", existing, existing.released, existing.release_date)


def _describe(step: VersionStep) -> str:
    if not step.released:
        return step.name
    return f"{step.name}, released" + (f" {step.release_date.isoformat()}" if step.release_date else "")


def key_order(key: str) -> tuple[str, int]:
    """Sort key of an issue key: project, then number (``ABC-9`` before ``ABC-10``)."""
    project, _, number = key.rpartition("-")
    return project, int(number) if number.isdigit() else 0
