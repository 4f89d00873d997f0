"""JSON shapes of Jira resources (issues, statuses, comments, transitions, versions)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from jirabucket.testing.jira.state import (
    StoredComment,
    StoredIssue,
    StoredVersion,
    jira_time,
    project_id,
    text_adf,
)
from jirabucket.testing.jira.workflow import RESOLUTION, ScreenField, Workflow, WorkflowTransition

__all__ = ["ALL_FIELDS", "JiraView", "parse_expand", "parse_fields"]

ALL_FIELDS = frozenset(
    {"summary", "status", "project", "issuetype", "description", "created", "updated", "resolution", "fixVersions"}
)

_CATEGORIES = {
    "new": (2, "To Do", "blue-gray"),
    "indeterminate": (4, "In Progress", "yellow"),
    "done": (3, "Done", "green"),
}
_ISSUE_TYPES = {"Task": "10001", "Bug": "10002", "Story": "10003", "Epic": "10000", "Sub-task": "10004"}


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


def parse_expand(values: Iterable[str] | None) -> frozenset[str]:
    """Return the names in an ``expand`` parameter (repeated and/or comma-separated)."""
    return frozenset(n.strip() for value in values or () for n in value.split(",") if n.strip())


@dataclass(frozen=True)
class JiraView:
    """Renders stored state for one request.

    Attributes:
        base: The simulator's URL.
        version: API version in the path (``"2"``, ``"3"`` or ``"latest"``).
        user: The JSON of the authenticated user (the author of new comments).
        workflow: The workflow, for status ids and categories.
        versions: Every project version by id, for ``fixVersions``.
    """

    base: str
    version: str
    user: dict[str, Any]
    workflow: Workflow
    versions: Mapping[str, StoredVersion]

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
        status_id, category = self.workflow.status_id(name), self.workflow.category(name)
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
        pid = str(project_id(key))
        return {
            "self": f"{self.api}/project/{pid}",
            "id": pid,
            "key": key,
            "name": key.title(),
            "projectTypeKey": "software",
            "simplified": False,
        }

    def issue_type(self, name: str) -> dict[str, Any]:
        """Return an issue type as Jira nests it in issues."""
        type_id = _ISSUE_TYPES.get(name, str(10100 + sum(map(ord, name)) % 900))
        return {
            "self": f"{self.api}/issuetype/{type_id}",
            "id": type_id,
            "name": name,
            "subtask": name == "Sub-task",
            "description": "",
            "iconUrl": f"{self.base}/images/icons/issuetypes/{name.lower()}.png",
        }

    def resolution(self, name: str, field: ScreenField | None = None) -> dict[str, Any]:
        """Return a resolution (or another screen field's option): id, name, self."""
        values = field.allowed_values if field is not None else ()
        option_id = str(10000 + values.index(name)) if name in values else str(10000 + sum(map(ord, name)) % 1000)
        return {"self": f"{self.api}/resolution/{option_id}", "id": option_id, "name": name, "description": ""}

    def version_ref(self, version: StoredVersion) -> dict[str, Any]:
        """Return a version as Jira nests it in an issue's ``fixVersions``."""
        ref: dict[str, Any] = {
            "self": f"{self.api}/version/{version.id}",
            "id": version.id,
            "name": version.name,
            "archived": version.archived,
            "released": version.released,
        }
        if version.description:
            ref["description"] = version.description
        if version.release_date is not None:
            ref["releaseDate"] = version.release_date.isoformat()
        return ref

    def version_json(self, version: StoredVersion, *, today: date) -> dict[str, Any]:
        """Return a version as the version resources answer it."""
        body = {**self.version_ref(version), "projectId": project_id(version.project)}
        if version.start_date is not None:
            body["startDate"] = version.start_date.isoformat()
            body["userStartDate"] = _user_date(version.start_date)
        if version.release_date is not None:
            body["userReleaseDate"] = _user_date(version.release_date)
            body["overdue"] = not version.released and version.release_date < today
        return body

    def issue(self, issue: StoredIssue, fields: frozenset[str] | None) -> dict[str, Any]:
        """Return an issue with the given fields (``None``: all of them)."""
        description: Any = issue.description or None
        if description is not None and self.adf:
            description = text_adf(description)
        every: dict[str, Any] = {
            "summary": issue.summary,
            "status": self.status(issue.status),
            "project": self.project(issue.project),
            "issuetype": self.issue_type(issue.issue_type),
            "description": description,
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "resolution": self.resolution(issue.resolution, RESOLUTION) if issue.resolution else None,
            "fixVersions": [self.version_ref(self.versions[v]) for v in issue.fix_versions],
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
        author = self.user if comment.author == self.user.get("displayName") else self._other_user(comment.author)
        return {
            "self": f"{self.api}/issue/{issue.id}/comment/{comment.id}",
            "id": comment.id,
            "author": author,
            "body": body,
            "updateAuthor": author,
            "created": stamp,
            "updated": stamp,
        }

    def transitions(self, issue: StoredIssue, *, with_fields: bool = False) -> dict[str, Any]:
        """Return the transitions available from the issue's status (with their screens when asked)."""
        items = [self._transition(t, with_fields=with_fields) for t in self.workflow.available(issue.status)]
        return {"expand": "transitions", "transitions": items}

    def _transition(self, transition: WorkflowTransition, *, with_fields: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": transition.id,
            "name": transition.name,
            "to": self.status(transition.to),
            "hasScreen": bool(transition.fields),
            "isGlobal": transition.sources is None,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        if with_fields:
            body["fields"] = {field.key: self._field_meta(field) for field in transition.fields}
        return body

    def _field_meta(self, field: ScreenField) -> dict[str, Any]:
        # A resolution's schema is Jira's; other fields are shown as system string fields (a guess).
        schema = (
            {"type": "resolution", "system": "resolution"}
            if field.key == "resolution"
            else {"type": "string", "system": field.key}
        )
        meta: dict[str, Any] = {
            "required": field.required,
            "schema": schema,
            "name": field.name,
            "key": field.key,
            "operations": ["set"],
        }
        if field.allowed_values:
            meta["allowedValues"] = [self.resolution(name, field) for name in field.allowed_values]
        return meta

    def _other_user(self, display_name: str) -> dict[str, Any]:
        # Another account than the token's (a comment seeded from Python, or another writer).
        ident = hashlib.sha1(display_name.encode(), usedforsecurity=False).hexdigest()[:12]
        if "accountId" in self.user:
            return {
                "accountId": f"5b10ac8d8{ident}",
                "displayName": display_name,
                "active": True,
                "accountType": "atlassian",
            }
        name = display_name.lower().replace(" ", "")
        return {"name": name, "key": f"JIRAUSER{int(ident[-4:], 16)}", "displayName": display_name, "active": True}


def _user_date(day: date) -> str:
    """Jira's default "d/MMM/yy" display format, e.g. ``6/Jul/26``."""
    return f"{day.day}/{day:%b}/{day:%y}"
