"""Bitbucket JSON shapes (Cloud 2.0 and Data Center 1.0) to :mod:`jirabucket.models` values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from jirabucket.errors import ConfigError
from jirabucket.models import Branch, Commit, PullRequest, User, pr_state

__all__ = [
    "branch_from_cloud",
    "branch_from_datacenter",
    "check_commit",
    "commit_from_cloud",
    "commit_from_datacenter",
    "parse_repo",
    "pr_from_cloud",
    "pr_from_datacenter",
    "to_utc",
    "user_from_cloud",
]

# Workspace / project keys and slugs: letters, digits, "-", "_", "." and Cloud's {uuid} form.
_PART = re.compile(r"\{?[A-Za-z0-9_][A-Za-z0-9_.~-]*\}?")
_HASH = re.compile(r"[0-9a-fA-F]{7,40}")


def parse_repo(repo: str) -> tuple[str, str]:
    """Split ``"workspace/slug"`` (Cloud) or ``"PROJECT/slug"`` (Data Center).

    Returns:
        The owner (workspace or project key) and the repository slug.

    Raises:
        ConfigError: ``repo`` is not two URL-safe parts joined by one ``/``.
    """
    parts = repo.split("/") if isinstance(repo, str) else []
    if len(parts) != 2 or not all(_PART.fullmatch(p) and ".." not in p for p in parts):
        raise ConfigError(
            f"{repo!r} is not a repository: write 'workspace/slug' (Cloud) "
            "or 'PROJECT/slug' (Data Center)"
        )
    return parts[0], parts[1]


def check_commit(commit: str) -> str:
    """Return ``commit`` if it is a (possibly abbreviated) commit hash, so it is safe in a URL path.

    Raises:
        ConfigError: It is not 7 to 40 hexadecimal digits.
    """
    if not isinstance(commit, str) or not _HASH.fullmatch(commit):
        raise ConfigError(f"{commit!r} is not a commit hash (7 to 40 hexadecimal digits)")
    return commit


def _dict(value: Any) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def to_utc(value: datetime | str) -> datetime:
    """Return an aware UTC datetime from a datetime or ISO 8601 text (naive means UTC)."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def pr_from_cloud(repo: str, data: Mapping[str, Any]) -> PullRequest:
    """Return the :class:`PullRequest` in a Cloud pull request object (as listed in a page)."""
    author = _dict(data.get("author"))
    return PullRequest(
        repo=repo,
        id=int(data["id"]),
        title=str(data.get("title") or ""),
        description=str(data.get("description") or ""),
        state=pr_state(str(data.get("state") or "OPEN")),
        source_branch=str(_dict(_dict(data.get("source")).get("branch")).get("name") or ""),
        destination_branch=str(
            _dict(_dict(data.get("destination")).get("branch")).get("name") or ""
        ),
        web_url=str(_dict(_dict(data.get("links")).get("html")).get("href") or ""),
        updated=to_utc(str(data["updated_on"])),
        author=str(author.get("display_name") or author.get("nickname") or ""),
        source_commit=str(_dict(_dict(data.get("source")).get("commit")).get("hash") or ""),
        created=to_utc(str(data["created_on"])) if data.get("created_on") else None,
    )


def pr_from_datacenter(repo: str, data: Mapping[str, Any]) -> PullRequest:
    """Return the :class:`PullRequest` in a Data Center pull request object."""
    user = _dict(_dict(data.get("author")).get("user"))
    links = _dict(data.get("links")).get("self")
    first = _dict(links[0]) if isinstance(links, list) and links else {}
    return PullRequest(
        repo=repo,
        id=int(data["id"]),
        title=str(data.get("title") or ""),
        description=str(data.get("description") or ""),
        state=pr_state(str(data.get("state") or "OPEN")),
        source_branch=str(_dict(data.get("fromRef")).get("displayId") or ""),
        destination_branch=str(_dict(data.get("toRef")).get("displayId") or ""),
        web_url=str(first.get("href") or ""),
        updated=datetime.fromtimestamp(int(data["updatedDate"]) / 1000, UTC),
        author=str(user.get("displayName") or user.get("name") or ""),
        source_commit=str(_dict(data.get("fromRef")).get("latestCommit") or ""),
        created=datetime.fromtimestamp(int(data["createdDate"]) / 1000, UTC) if data.get("createdDate") else None,
    )


def commit_from_cloud(data: Mapping[str, Any]) -> Commit:
    """Return the :class:`Commit` in a Cloud commit object."""
    author = _dict(data.get("author"))
    # "raw" is "Name <email>": keep the name, as Data Center's author.name does.
    raw = str(author.get("raw") or "").split("<")[0].strip()
    name = _dict(author.get("user")).get("display_name") or raw
    return Commit(hash=str(data["hash"]), message=str(data.get("message") or ""), author=str(name),
                  parents=_parents(data, "hash"))


def commit_from_datacenter(data: Mapping[str, Any]) -> Commit:
    """Return the :class:`Commit` in a Data Center commit object."""
    author = _dict(data.get("author"))
    name = author.get("displayName") or author.get("name") or ""
    return Commit(hash=str(data["id"]), message=str(data.get("message") or ""), author=str(name),
                  parents=_parents(data, "id"))


def _parents(data: Mapping[str, Any], field: str) -> tuple[str, ...]:
    """Return the parent hashes of a commit object (Cloud names them ``hash``, Data Center ``id``)."""
    parents = data.get("parents")
    if not isinstance(parents, list):
        return ()
    return tuple(str(_dict(p).get(field)) for p in parents if _dict(p).get(field))


def branch_from_cloud(data: Mapping[str, Any]) -> Branch:
    """Return the :class:`Branch` in a Cloud ref object."""
    return Branch(name=str(data["name"]), target=str(_dict(data.get("target")).get("hash") or ""))


def branch_from_datacenter(data: Mapping[str, Any]) -> Branch:
    """Return the :class:`Branch` in a Data Center branch object."""
    name = data.get("displayId") or str(data.get("id", "")).removeprefix("refs/heads/")
    return Branch(name=str(name), target=str(data.get("latestCommit") or ""))


def user_from_cloud(data: Mapping[str, Any]) -> User:
    """Return the :class:`User` in a Cloud ``/2.0/user`` answer."""
    name = data.get("username") or data.get("nickname") or data.get("account_id") or ""
    return User(name=str(name), display_name=str(data.get("display_name") or name), email=None)
