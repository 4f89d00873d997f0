"""Jira state shared by the Cloud and Data Center simulators: issues, comments, links, versions."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jirabucket.testing.http.messages import BadRequest
from jirabucket.testing.jira.workflow import Workflow

__all__ = [
    "CommentSnapshot",
    "IssueSnapshot",
    "JiraState",
    "StoredComment",
    "StoredIssue",
    "StoredVersion",
    "VersionSnapshot",
    "adf_text",
    "jira_time",
    "project_id",
    "text_adf",
]

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def project_id(key: str) -> int:
    """Return the deterministic numeric id of a project key."""
    return 10000 + sum(ord(c) for c in key)


def jira_time(moment: datetime) -> str:
    """Format a time as Jira does: ``2026-11-28T10:00:00.000+0000``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def adf_text(doc: Any) -> str:
    """Return the plain text of an Atlassian Document Format node (paragraphs joined by \\n)."""
    if not isinstance(doc, dict):
        return ""
    if doc.get("type") == "text":
        return str(doc.get("text", ""))
    parts = [adf_text(child) for child in doc.get("content", [])]
    joiner = "\n" if doc.get("type") == "doc" else ""
    return joiner.join(parts)


def text_adf(text: str) -> dict[str, Any]:
    """Wrap plain text in an ADF document, one paragraph per line."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []} for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


@dataclass(frozen=True)
class CommentSnapshot:
    """A comment on an issue, as tests read it.

    Attributes:
        id: Comment id (a string, as Jira sends it; ids increase with each comment).
        text: Plain text of the body (ADF bodies flattened).
        author: Display name of the author.
        created: When it was posted.
    """

    id: str
    text: str
    author: str
    created: datetime


@dataclass(frozen=True, slots=True)
class VersionSnapshot:
    """A project version (a "fixVersion"), as tests read it.

    Attributes:
        id: Version id (a string, as Jira sends it).
        project: Project key.
        name: Version name, unique within its project.
        released: Whether it is released.
        release_date: Its release date, if set.
        archived: Whether it is archived.
        description: Its description.
    """

    id: str
    project: str
    name: str
    released: bool
    release_date: date | None
    archived: bool
    description: str


@dataclass(frozen=True)
class IssueSnapshot:
    """An issue's state at one moment, as tests read it.

    Attributes:
        key: Issue key, e.g. ``ABC-12``.
        summary: Summary line.
        status: Status name.
        status_category: ``"new"``, ``"indeterminate"`` or ``"done"``.
        remote_links: Remote links as Jira returns them.
        comments: Comments, oldest first.
        transitions_applied: Names of the transitions applied, in order.
        remote_link_writes: POSTs to the remote-link resource, no-op updates included.
        resolution: The resolution name, ``None`` while unresolved.
        fix_versions: Names of the issue's fix versions, in the order they were added.
        issue_type: The issue type's name.
    """

    key: str
    summary: str
    status: str
    status_category: str
    remote_links: tuple[dict[str, Any], ...]
    comments: tuple[CommentSnapshot, ...]
    transitions_applied: tuple[str, ...]
    remote_link_writes: int
    resolution: str | None = None
    fix_versions: tuple[str, ...] = ()
    issue_type: str = "Task"


@dataclass
class StoredComment:
    """A comment as the simulator keeps it (mutable, private to the state)."""

    id: str
    text: str
    adf: dict[str, Any] | None
    author: str
    created: datetime


@dataclass
class StoredVersion:
    """A project version as the simulator keeps it (mutable, private to the state)."""

    id: str
    project: str
    name: str
    description: str = ""
    released: bool = False
    archived: bool = False
    release_date: date | None = None
    start_date: date | None = None

    def snapshot(self) -> VersionSnapshot:
        """Return a frozen copy."""
        return VersionSnapshot(
            self.id, self.project, self.name, self.released, self.release_date, self.archived, self.description
        )


@dataclass
class StoredIssue:
    """An issue as the simulator keeps it (mutable, private to the state)."""

    id: str
    key: str
    summary: str
    status: str
    description: str
    created: datetime
    updated: datetime
    issue_type: str = "Task"
    resolution: str | None = None
    fix_versions: list[str] = field(default_factory=list)
    remote_links: list[dict[str, Any]] = field(default_factory=list)
    comments: list[StoredComment] = field(default_factory=list)
    transitions_applied: list[str] = field(default_factory=list)
    remote_link_writes: int = 0
    transition_failures: dict[str | None, str] = field(default_factory=dict)

    @property
    def project(self) -> str:
        """The project key (the key's prefix)."""
        return self.key.rsplit("-", 1)[0]

    @property
    def number(self) -> int:
        """The key's number, for ordering."""
        return int(self.key.rsplit("-", 1)[1])


class JiraState:
    """Issues, links, comments, versions and the workflow. The simulator's lock guards it.

    Args:
        workflow: The workflow every issue follows.
    """

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.issues: dict[str, StoredIssue] = {}
        self.versions: dict[str, StoredVersion] = {}
        self.extra_projects: set[str] = set()
        self._next_id = 10001
        self._next_link_id = 10000
        self._next_comment_id = 10000
        self._next_version_id = 10000
        self._ticks = 0

    def now(self) -> datetime:
        """Return a deterministic, increasing clock reading."""
        self._ticks += 1
        return _EPOCH + timedelta(minutes=self._ticks)

    def set_workflow(self, workflow: Workflow) -> None:
        """Switch to another workflow.

        Raises:
            ValueError: An existing issue's status is not in the new workflow.
        """
        stranded = sorted(i.key for i in self.issues.values() if i.status not in workflow.status_names())
        if stranded:
            raise ValueError(f"issues {stranded} have statuses the new workflow lacks")
        self.workflow = workflow

    # -- issues ------------------------------------------------------------------

    def add(
        self,
        key: str,
        *,
        summary: str,
        status: str,
        description: str,
        issue_type: str = "Task",
        fix_versions: Sequence[str] = (),
    ) -> None:
        """Create (or replace) an issue.

        Raises:
            ValueError: Unknown status or fix version, or a malformed key.
        """
        if status not in self.workflow.status_names():
            raise ValueError(f"unknown status {status!r}; use one of {list(self.workflow.status_names())}")
        project, _, number = key.rpartition("-")
        if not project or not number.isdigit():
            raise ValueError(f"not an issue key: {key!r}")
        version_ids = []
        for name in fix_versions:
            found = self.version_named(project, name)
            if found is None:
                raise ValueError(f"no version {name!r} in project {project}; call add_version() first")
            version_ids.append(found.id)
        stamp = self.now()
        self.issues[key] = StoredIssue(
            str(self._next_id), key, summary, status, description, stamp, stamp, issue_type, fix_versions=version_ids
        )
        self._next_id += 1

    def get(self, key_or_id: str) -> StoredIssue:
        """Return an issue by key (case-insensitive) or id.

        Raises:
            BadRequest: 404 when there is no such issue.
        """
        found = self.issues.get(key_or_id.upper())
        if found is None:
            found = next((i for i in self.issues.values() if i.id == key_or_id), None)
        if found is None:
            raise BadRequest("Issue does not exist or you do not have permission to see it.", status=404)
        return found

    def sorted_keys(self) -> list[str]:
        """Return every key ordered by project, then number."""
        ordered = sorted(self.issues.values(), key=lambda i: (i.project, i.number))
        return [i.key for i in ordered]

    def projects(self) -> set[str]:
        """Return the known project keys: those with issues, versions, or added explicitly."""
        return (
            {i.project for i in self.issues.values()}
            | {v.project for v in self.versions.values()}
            | self.extra_projects
        )

    def project_key(self, key_or_id: str | int) -> str:
        """Return the key of a known project given its key or numeric id.

        Raises:
            BadRequest: 404 when no such project is known.
        """
        for key in self.projects():
            if str(key_or_id).upper() == key or str(key_or_id) == str(project_id(key)):
                return key
        raise BadRequest(f"No project could be found with key '{key_or_id}'.", status=404)

    # -- remote links and comments ---------------------------------------------

    def upsert_link(self, issue: StoredIssue, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or replace a remote link; return it and whether it is new.

        Raises:
            BadRequest: ``object.url`` or ``object.title`` is missing.
        """
        obj = body.get("object")
        missing = {
            name: f"'{name}' is required."
            for name in ("url", "title")
            if not isinstance(obj, dict) or not obj.get(name)
        }
        if missing:
            raise BadRequest("Invalid remote link.", field_errors=missing)
        issue.remote_link_writes += 1
        global_id = body.get("globalId")
        existing = next(
            (link for link in issue.remote_links if global_id and link.get("globalId") == global_id),
            None,
        )
        if existing is not None:
            kept = {"id": existing["id"], "self": existing["self"]}
            existing.clear()
            existing.update(kept)
            existing.update(copy.deepcopy(body))
            return existing, False
        link = {"id": self._next_link_id, "self": "", **copy.deepcopy(body)}
        self._next_link_id += 1
        issue.remote_links.append(link)
        return link, True

    def add_comment(self, issue: StoredIssue, *, text: str, adf: dict[str, Any] | None, author: str) -> StoredComment:
        """Append a comment and return it; ids increase with every comment on any issue."""
        comment = StoredComment(str(self._next_comment_id), text, adf, author, self.now())
        self._next_comment_id += 1
        issue.comments.append(comment)
        issue.updated = comment.created
        return comment

    def comment(self, issue: StoredIssue, comment_id: str) -> StoredComment:
        """Return one of an issue's comments.

        Raises:
            BadRequest: 404 when the issue has no comment with that id.
        """
        found = next((c for c in issue.comments if c.id == comment_id), None)
        if found is None:
            raise BadRequest(f"Can not find a comment for the id: {comment_id}.", status=404)
        return found

    def delete_comment(self, issue: StoredIssue, comment_id: str) -> None:
        """Delete one of an issue's comments.

        Raises:
            BadRequest: 404 when the issue has no comment with that id.
        """
        issue.comments.remove(self.comment(issue, comment_id))
        issue.updated = self.now()

    # -- transitions -------------------------------------------------------------

    def transition(self, issue: StoredIssue, transition_id: str, values: dict[str, Any]) -> None:
        """Apply a transition as the workflow allows it.

        A transition into a ``done`` status sets the resolution it was given; one
        out of ``done`` clears it (the post function Jira's default workflows have).

        Raises:
            BadRequest: 400 as :meth:`Workflow.check_transition` says, or a
                failure set with ``fail_transitions`` for this issue.
        """
        transition, resolution = self.workflow.check_transition(issue.status, transition_id, values)
        failure = issue.transition_failures.get(transition.to, issue.transition_failures.get(None))
        if failure is not None:
            raise BadRequest(failure)
        issue.status = transition.to
        if self.workflow.category(transition.to) != "done":
            issue.resolution = None
        elif resolution is not None:
            issue.resolution = resolution
        issue.transitions_applied.append(transition.name)
        issue.updated = self.now()

    # -- versions ----------------------------------------------------------------

    def version_named(self, project: str, name: str) -> StoredVersion | None:
        """Return the project's version with this name, or ``None``."""
        return next((v for v in self.versions.values() if v.project == project and v.name == name), None)

    def add_version(
        self,
        project: str,
        name: str,
        *,
        description: str = "",
        released: bool = False,
        archived: bool = False,
        release_date: date | None = None,
        start_date: date | None = None,
    ) -> StoredVersion:
        """Create a version in a project (which becomes known if it was not).

        Raises:
            BadRequest: 400 when the name is empty or taken in that project.
        """
        if not name.strip():
            raise BadRequest("Invalid version.", field_errors={"name": "You must specify a valid version name"})
        if self.version_named(project, name) is not None:
            raise BadRequest(
                "Invalid version.", field_errors={"name": "A version with this name already exists in this project."}
            )
        version = StoredVersion(
            str(self._next_version_id), project, name, description, released, archived, release_date, start_date
        )
        self._next_version_id += 1
        self.versions[version.id] = version
        return version

    def version(self, version_id: str) -> StoredVersion:
        """Return a version by id.

        Raises:
            BadRequest: 404 when there is no such version.
        """
        found = self.versions.get(version_id)
        if found is None:
            raise BadRequest(f"Could not find version for id '{version_id}'", status=404)
        return found

    def project_versions(self, project: str) -> list[StoredVersion]:
        """Return a project's versions in creation order."""
        return [v for v in self.versions.values() if v.project == project]

    # -- snapshots ---------------------------------------------------------------

    def snapshot(self, key: str) -> IssueSnapshot:
        """Return a frozen copy of one issue.

        Raises:
            KeyError: No such issue.
        """
        issue = self.issues[key]
        comments = tuple(CommentSnapshot(c.id, c.text, c.author, c.created) for c in issue.comments)
        return IssueSnapshot(
            key=issue.key,
            summary=issue.summary,
            status=issue.status,
            status_category=self.workflow.category(issue.status),
            remote_links=tuple(copy.deepcopy(link) for link in issue.remote_links),
            comments=comments,
            transitions_applied=tuple(issue.transitions_applied),
            remote_link_writes=issue.remote_link_writes,
            resolution=issue.resolution,
            fix_versions=tuple(self.versions[v].name for v in issue.fix_versions),
            issue_type=issue.issue_type,
        )
