"""The outcome of a release: what was found in the range, what was written, and the notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from jirabucket.release.plan import PlannedWrite
from jirabucket.sync.report import Failure

__all__ = ["ReleaseReport", "VersionOutcome"]


@dataclass(frozen=True, slots=True)
class VersionOutcome:
    """Version ``NAME`` in one project after the run.

    Attributes:
        project: The project key.
        id: Jira's id of the version (empty when it was not created: a dry run or a failure).
        name: The version's name as Jira spells it.
        released: Whether it is released.
        release_date: Its release date, if set.
    """

    project: str
    id: str
    name: str
    released: bool
    release_date: date | None

    def to_json(self) -> dict[str, Any]:
        """Return the version as a JSON object."""
        return {
            "project": self.project,
            "id": self.id or None,
            "name": self.name,
            "released": self.released,
            "release_date": None if self.release_date is None else self.release_date.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ReleaseReport:
    """What one release run found and did.

    Attributes:
        repo: The repository.
        from_ref: Where the range starts (excluded).
        to_ref: Where it ends (included).
        version: The version's name as asked for.
        commits: Commits in the range (a merge commit counts once).
        issues: Keys of the existing issues the commits name, ordered by key.
        skipped_keys: Keys of the projects that Jira does not know (or this token cannot see).
        versions: The version in each project that has issues in the release.
        created_versions: Projects where the version was created.
        released_versions: Projects where an existing version was marked released (or re-dated).
        updated_issues: Issues that got the fixVersion in this run.
        failed: Writes that failed for good after retries.
        plan: Every write needed, done or (on a dry run) not.
        notes: The release notes (Markdown).
        dry_run: Whether nothing was written.
        requests: HTTP requests sent to Jira and Bitbucket.
        seconds: Wall time of the run.
    """

    repo: str
    from_ref: str
    to_ref: str
    version: str
    commits: int
    issues: tuple[str, ...]
    skipped_keys: tuple[str, ...]
    versions: tuple[VersionOutcome, ...]
    created_versions: tuple[str, ...]
    released_versions: tuple[str, ...]
    updated_issues: tuple[str, ...]
    failed: tuple[Failure, ...]
    plan: tuple[PlannedWrite, ...]
    notes: str
    dry_run: bool
    requests: int
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether every write succeeded."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` document."""
        return {
            "repo": self.repo,
            "from": self.from_ref,
            "to": self.to_ref,
            "version": self.version,
            "commits": self.commits,
            "issues": list(self.issues),
            "skipped_keys": list(self.skipped_keys),
            "versions": [v.to_json() for v in self.versions],
            "created_versions": list(self.created_versions),
            "released_versions": list(self.released_versions),
            "updated_issues": list(self.updated_issues),
            "failed": [{"operation": f.operation, "target": f.target, "error": f.error} for f in self.failed],
            "plan": [write.to_json() for write in self.plan],
            "notes": self.notes,
            "dry_run": self.dry_run,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
        }
