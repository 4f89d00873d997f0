"""Jira JSON shapes (Cloud v3 and Data Center v2) to :mod:`jirabucket.models` values, and ADF."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from jirabucket.errors import ConfigError
from jirabucket.models import Comment, Issue, RemoteLink, Transition, User, Version

__all__ = [
    "ISSUE_FIELDS",
    "adf_to_text",
    "check_issue_key",
    "check_number",
    "check_project_key",
    "comment_from_json",
    "is_issue_key",
    "issue_from_json",
    "link_from_json",
    "status_from_json",
    "text_to_adf",
    "transition_from_json",
    "user_from_json",
    "version_from_json",
]

ISSUE_FIELDS = ("summary", "status", "project", "issuetype", "fixVersions")
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*-[1-9][0-9]{0,17}")
_PROJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,254}")
_NUMBER = re.compile(r"[0-9]{1,19}")
_CATEGORIES = frozenset({"new", "indeterminate", "done"})
# ADF nodes whose children are blocks; their children are separated by newlines.
_BLOCK_CONTAINERS = frozenset(
    {"doc", "blockquote", "bulletList", "orderedList", "listItem", "panel", "table",
     "tableRow", "tableCell", "tableHeader", "expand", "nestedExpand", "layoutSection",
     "layoutColumn", "taskList", "decisionList"}
)


def is_issue_key(key: str) -> bool:
    """Return whether ``key`` looks like a Jira issue key (``ABC-123``)."""
    return _KEY.fullmatch(key) is not None


def check_issue_key(key: str) -> str:
    """Return ``key`` if it is an issue key, so it is safe to put in a URL path.

    Raises:
        ConfigError: ``key`` is not of the form ``PROJECT-123``.
    """
    if not isinstance(key, str) or not is_issue_key(key):
        raise ConfigError(f"{key!r} is not a Jira issue key (expected e.g. ABC-123)")
    return key


def check_project_key(project: str) -> str:
    """Return ``project`` if it is a project key (``ABC``), so it is safe to put in a URL path.

    Raises:
        ConfigError: It is not letters, digits and ``_``, starting with a letter.
    """
    if not isinstance(project, str) or not _PROJECT.fullmatch(project):
        raise ConfigError(f"{project!r} is not a Jira project key (expected e.g. ABC)")
    return project


def check_number(value: str | int, *, what: str) -> str:
    """Return ``value`` as text if it is a numeric Jira id (a comment's, a version's).

    Raises:
        ConfigError: It is not a string of digits.
    """
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not _NUMBER.fullmatch(text):
        raise ConfigError(f"{value!r} is not a Jira {what} id (expected digits)")
    return text


def _dict(value: Any) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty one (missing parts read as empty)."""
    return value if isinstance(value, Mapping) else {}


def issue_from_json(data: Mapping[str, Any]) -> Issue:
    """Return the :class:`Issue` in a Jira issue object (any API version)."""
    fields = _dict(data.get("fields"))
    status, category = status_from_json(data)
    key = str(data["key"])
    project = str(_dict(fields.get("project")).get("key") or key.rpartition("-")[0])
    versions = fields.get("fixVersions")
    return Issue(
        key=key,
        summary=str(fields.get("summary") or ""),
        status=status,
        status_category=category,
        project=project,
        issue_type=str(_dict(fields.get("issuetype")).get("name") or ""),
        fix_versions=tuple(
            str(_dict(v).get("name")) for v in versions if _dict(v).get("name")
        ) if isinstance(versions, list) else (),
    )


def status_from_json(data: Mapping[str, Any]) -> tuple[str, str]:
    """Return the status name and category (``new``, ``indeterminate``, ``done``) of an issue object."""
    status = _dict(_dict(data.get("fields")).get("status"))
    category = str(_dict(status.get("statusCategory")).get("key") or "")
    # Jira's fourth category "undefined" (no category) counts as work in progress.
    return str(status.get("name") or ""), category if category in _CATEGORIES else "indeterminate"


def user_from_json(data: Mapping[str, Any]) -> User:
    """Return the :class:`User` in a ``myself`` answer (Cloud has accountId, DC name)."""
    name = data.get("name") or data.get("accountId") or ""
    return User(
        name=str(name),
        display_name=str(data.get("displayName") or name),
        email=data.get("emailAddress") or None,
    )


def link_from_json(data: Mapping[str, Any]) -> RemoteLink:
    """Return the :class:`RemoteLink` in a remote link object."""
    obj = _dict(data.get("object"))
    global_id = data.get("globalId")
    return RemoteLink(
        id=int(data["id"]),
        global_id=str(global_id) if global_id is not None else None,
        url=str(obj.get("url") or ""),
        title=str(obj.get("title") or ""),
        resolved=bool(_dict(obj.get("status")).get("resolved", False)),
    )


def transition_from_json(data: Mapping[str, Any]) -> Transition:
    """Return the :class:`Transition` in a transitions list entry (with ``fields`` when expanded)."""
    fields = _dict(data.get("fields"))
    to = _dict(data.get("to"))
    category = str(_dict(to.get("statusCategory")).get("key") or "")
    return Transition(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        to_status=str(to.get("name") or ""),
        required_fields=tuple(str(k) for k, v in fields.items() if _dict(v).get("required") is True),
        to_category=category if category in _CATEGORIES or not category else "indeterminate",
        screen_fields=tuple(str(k) for k in fields),
    )


def version_from_json(data: Mapping[str, Any], *, project: str = "") -> Version:
    """Return the :class:`Version` in a version object.

    Args:
        data: The version object.
        project: The project key when the caller knows it (Jira's answers give
            ``projectId``; only some name the key, as ``project``).
    """
    return Version(
        id=str(data["id"]),
        name=str(data.get("name") or ""),
        released=bool(data.get("released", False)),
        release_date=_release_date(data.get("releaseDate")),
        project=project or str(data.get("project") or ""),
    )


def _release_date(value: Any) -> date | None:
    """Return a version's ``releaseDate``: ISO text as documented, or epoch milliseconds as seen in examples."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).date()
    return date.fromisoformat(str(value)[:10])


def comment_from_json(data: Mapping[str, Any]) -> Comment:
    """Return the :class:`Comment` in a comment object; ADF bodies become plain text."""
    body = data.get("body")
    text = body if isinstance(body, str) else adf_to_text(_dict(body))
    return Comment(id=str(data["id"]), text=text)


def text_to_adf(text: str) -> dict[str, Any]:
    """Return an ADF document for plain ``text``.

    Blank lines separate paragraphs; single newlines become hard breaks, so
    :func:`adf_to_text` gives the text back.
    """
    paragraphs = []
    for block in text.split("\n\n"):
        content: list[dict[str, Any]] = []
        for number, line in enumerate(block.split("\n")):
            if number:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_to_text(node: Mapping[str, Any]) -> str:
    """Return the plain text of an ADF node (a whole document or any part of it)."""
    kind = node.get("type")
    attrs = _dict(node.get("attrs"))
    if kind == "text":
        return str(node.get("text") or "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    children = node.get("content")
    parts = [adf_to_text(_dict(c)) for c in children] if isinstance(children, list) else []
    if kind == "doc":
        return "\n\n".join(parts)
    return "\n".join(parts) if kind in _BLOCK_CONTAINERS else "".join(parts)
