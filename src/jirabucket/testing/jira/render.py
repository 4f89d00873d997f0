"""JSON shapes of Jira resources (issues, statuses, comments, transitions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jirabucket.testing.jira.state import (
    STATUSES,
    TRANSITIONS,
    StoredComment,
    StoredIssue,
    jira_time,
    text_adf,
)

__all__ = ["ALL_FIELDS", "JiraView", "parse_fields"]

ALL_FIELDS = frozenset({"summary", "status", "project", "issuetype", "description", "created", "updated"})

_CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}


def parse_fields(values: Iterable[str] | None) -> frozenset[str] | None:
    """Turn a ``fields`` parameter into a set of field names.

    Args:
        values: Values given (each may hold comma-separated names), or ``None``.

    Returns:
        ``None`` when no fields were asked for; otherwise the named fields, with
        ``*all`` and ``*navigable`` meaning every field. Exclusions (``-name``)
        and unknown names are ignored.
    """
    if values is None:
        return None
    names = {n.strip() for value in values for n in value.split(",") if n.strip()}
    if not names:
        return None
    if names & {"*all", "*navigable"}:
        return ALL_FIELDS
    return frozenset(names & ALL_FIELDS)


@dataclass(frozen=True)
class JiraView:
    """Renders stored state for one request.

    Attributes:
        base: The simulator's URL.
        version: API version in the path (``"2"``, ``"3"`` or ``"latest"``).
        user: The JSON of the authenticated user (the author of new comments).
    """

    base: str
    version: str
    user: dict[str, Any]

    @property
    def api(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:1234/rest/api/3``."""
        return f"{self.base}/rest/api/{self.version}"

    @property
    def adf(self) -> bool:
        """Whether rich text is Atlassian Document Format (v3) rather than a string."""
        return self.version == "3"

    def status(self, name: str) -> dict[str, Any]:
        """Return a status as Jira nests it in issues and transitions."""
        status_id, category = STATUSES[name]
        cat_id, cat_name, color = _CATEGORIES[category]
        return {
            "self": f"{self.api}/status/{status_id}",
            "description": "",
            "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
            "name": name,
            "id": status_id,
            "statusCategory": {
                "self": f"{self.api}/statuscategory/{cat_id}",
                "id": cat_id,
                "key": category,
                "colorName": color,
                "name": cat_name,
            },
        }

    def project(self, key: str) -> dict[str, Any]:
        """Return a project as Jira nests it in issues."""
        project_id = str(10000 + sum(ord(c) for c in key))
        return {
            "self": f"{self.api}/project/{project_id}",
            "id": project_id,
            "key": key,
            "name": key.title(),
            "projectTypeKey": "software",
            "simplified": False,
        }

    def issue(self, issue: StoredIssue, fields: frozenset[str] | None) -> dict[str, Any]:
        """Return an issue with the given fields (``None``: all of them)."""
        description: Any = issue.description or None
        if description is not None and self.adf:
            description = text_adf(description)
        every: dict[str, Any] = {
            "summary": issue.summary,
            "status": self.status(issue.status),
            "project": self.project(issue.project),
            "issuetype": {"id": "10001", "name": "Task", "subtask": False},
            "description": description,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
        }
        wanted = ALL_FIELDS if fields is None else fields
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": {name: value for name, value in every.items() if name in wanted},
        }

    def comment(self, issue: StoredIssue, comment: StoredComment) -> dict[str, Any]:
        """Return a comment (ADF body on v3, a string on v2)."""
        body: Any = comment.text
        if self.adf:
            body = comment.adf if comment.adf is not None else text_adf(comment.text)
        stamp = jira_time(comment.created)
        return {
            "self": f"{self.api}/issue/{issue.id}/comment/{comment.id}",
            "id": comment.id,
            "author": self.user,
            "body": body,
            "updateAuthor": self.user,
            "created": stamp,
            "updated": stamp,
        }

    def transitions(self, issue: StoredIssue) -> dict[str, Any]:
        """Return the transitions available from the issue's status."""
        items = [
            {
                "id": tid,
                "name": name,
                "to": self.status(target),
                "hasScreen": False,
                "isGlobal": False,
                "isInitial": False,
                "isAvailable": True,
                "isConditional": False,
                "isLooped": False,
            }
            for tid, name, target in TRANSITIONS[issue.status]
        ]
        return {"expand": "transitions", "transitions": items}
