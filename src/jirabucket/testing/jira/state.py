"""Jira issue state shared by the Cloud and Data Center simulators."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jirabucket.testing.http.messages import BadRequest

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "CommentSnapshot",
    "IssueSnapshot",
    "JiraState",
    "StoredComment",
    "StoredIssue",
    "adf_text",
    "jira_time",
    "text_adf",
]

STATUSES: dict[str, tuple[str, str]] = {
    "To Do": ("10000", "new"),
    "In Progress": ("10001", "indeterminate"),
    "In Review": ("10002", "indeterminate"),
    "Done": ("10003", "done"),
}
"""Status name -> (status id, status category key)."""

TRANSITIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "To Do": (("11", "Start work", "In Progress"), ("21", "Submit for review", "In Review")),
    "In Progress": (("21", "Submit for review", "In Review"), ("31", "Resolve", "Done")),
    "In Review": (("41", "Request changes", "In Progress"), ("51", "Approve", "Done")),
    "Done": (("61", "Reopen", "To Do"),),
}
"""Current status -> available (transition id, transition name, target status)."""

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


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
        id: Comment id (a string, as Jira sends it).
        text: Plain text of the body (ADF bodies flattened).
        author: Display name of the author.
        created: When it was posted.
    """

    id: str
    text: str
    author: str
    created: datetime


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
    """

    key: str
    summary: str
    status: str
    status_category: str
    remote_links: tuple[dict[str, Any], ...]
    comments: tuple[CommentSnapshot, ...]
    transitions_applied: tuple[str, ...]
    remote_link_writes: int


@dataclass
class StoredComment:
    """A comment as the simulator keeps it (mutable, private to the state)."""

    id: str
    text: str
    adf: dict[str, Any] | None
    author: str
    created: datetime


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
    remote_links: list[dict[str, Any]] = field(default_factory=list)
    comments: list[StoredComment] = field(default_factory=list)
    transitions_applied: list[str] = field(default_factory=list)
    remote_link_writes: int = 0

    @property
    def project(self) -> str:
        """The project key (the key's prefix)."""
        return self.key.rsplit("-", 1)[0]

    @property
    def number(self) -> int:
        """The key's number, for ordering."""
        return int(self.key.rsplit("-", 1)[1])


class JiraState:
    """Issues, links, comments and the workflow. The simulator's lock guards it."""

    def __init__(self) -> None:
        self.issues: dict[str, StoredIssue] = {}
        self._next_id = 10001
        self._next_link_id = 10000
        self._next_comment_id = 10000
        self._ticks = 0

    def now(self) -> datetime:
        """Return a deterministic, increasing clock reading."""
        self._ticks += 1
        return _EPOCH + timedelta(minutes=self._ticks)

    def add(self, key: str, *, summary: str, status: str, description: str) -> None:
        """Create (or replace) an issue.

        Raises:
            ValueError: Unknown status or a malformed key.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; use one of {sorted(STATUSES)}")
        project, _, number = key.rpartition("-")
        if not project or not number.isdigit():
            raise ValueError(f"not an issue key: {key!r}")
        stamp = self.now()
        self.issues[key] = StoredIssue(str(self._next_id), key, summary, status, description, stamp, stamp)
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
        """Append a comment and return it."""
        comment = StoredComment(str(self._next_comment_id), text, adf, author, self.now())
        self._next_comment_id += 1
        issue.comments.append(comment)
        issue.updated = comment.created
        return comment

    def transition(self, issue: StoredIssue, transition_id: str) -> None:
        """Apply a transition available from the issue's status.

        Raises:
            BadRequest: The transition is not available from the current status.
        """
        for tid, name, target in TRANSITIONS[issue.status]:
            if tid == transition_id:
                issue.status = target
                issue.transitions_applied.append(name)
                issue.updated = self.now()
                return
        raise BadRequest(f"Transition id '{transition_id}' is not valid for this issue.")

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
            status_category=STATUSES[issue.status][1],
            remote_links=tuple(copy.deepcopy(link) for link in issue.remote_links),
            comments=comments,
            transitions_applied=tuple(issue.transitions_applied),
            remote_link_writes=issue.remote_link_writes,
        )
