"""Typed values read from Jira and Bitbucket, the same for Cloud and Data Center.

The client adapters in :mod:`jirabucket.clients` normalise each flavor's JSON
into these frozen, slotted dataclasses, so nothing above the clients sees a
raw Atlassian payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal, cast, get_args

__all__ = [
    "DEFAULT_PR_STATES",
    "FLAVORS",
    "PR_STATES",
    "Branch",
    "Comment",
    "Commit",
    "Flavor",
    "Issue",
    "IssueLookup",
    "IssueState",
    "PrState",
    "PullRequest",
    "RemoteLink",
    "Transition",
    "User",
    "Version",
    "pr_state",
]

#: Which product line a server is: Atlassian's Cloud or a self-hosted Data Center.
Flavor = Literal["cloud", "datacenter"]
FLAVORS: tuple[Flavor, ...] = get_args(Flavor)

#: A pull request's state, normalised to upper case across Cloud and Data Center.
PrState = Literal["OPEN", "MERGED", "DECLINED", "SUPERSEDED"]
PR_STATES: frozenset[str] = frozenset(get_args(PrState))
#: The states a sync reads (SUPERSEDED is Cloud-only and names no new work).
DEFAULT_PR_STATES: tuple[PrState, ...] = ("OPEN", "MERGED", "DECLINED")


def pr_state(text: str) -> PrState:
    """Return ``text`` as a :data:`PrState` (case-insensitive).

    Raises:
        ValueError: It is not a pull request state.
    """
    state = text.upper()
    if state not in PR_STATES:
        raise ValueError(f"unknown pull request state {text!r}")
    return cast(PrState, state)

_STATUS_CATEGORIES = frozenset({"new", "indeterminate", "done"})


@dataclass(frozen=True, slots=True)
class Issue:
    """A Jira issue, reduced to what the sync needs.

    Args:
        key: The issue key, e.g. ``"ABC-123"``.
        summary: The one-line summary.
        status: The status name, e.g. ``"In Progress"``.
        status_category: ``"new"``, ``"indeterminate"`` or ``"done"``.
        project: The project key, e.g. ``"ABC"``.
        issue_type: The issue type's name, e.g. ``"Bug"`` (empty when not read).
        fix_versions: The names of the issue's fixVersions (empty when none or not read).

    Raises:
        ValueError: ``status_category`` is not one of the three categories.
    """

    key: str
    summary: str
    status: str
    status_category: str
    project: str
    issue_type: str = ""
    fix_versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status_category not in _STATUS_CATEGORIES:
            raise ValueError(f"unknown status category {self.status_category!r}")


@dataclass(frozen=True, slots=True)
class IssueLookup:
    """The answer to a batched lookup: the issues found and the keys that do not exist.

    Args:
        found: Issues by key (a read-only mapping).
        missing: Asked-for keys that do not exist or are not visible.
    """

    found: Mapping[str, Issue] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # A read-only view keeps the frozen value honest without copying twice.
        object.__setattr__(self, "found", MappingProxyType(dict(self.found)))


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request, the same shape for Bitbucket Cloud and Data Center.

    Args:
        repo: ``"workspace/slug"`` (Cloud) or ``"PROJECT/slug"`` (Data Center).
        id: The pull request number within the repository.
        title: The title.
        description: The description (empty when there is none).
        state: ``OPEN``, ``MERGED``, ``DECLINED`` or ``SUPERSEDED``.
        source_branch: The branch being merged.
        destination_branch: The branch merged into.
        web_url: The pull request's page in a browser.
        updated: When it last changed (timezone-aware, UTC).
        author: The author's display name (or user name when there is none).
        source_commit: The hash of the source branch's head commit (Cloud abbreviates it
            to 12 characters in pull request objects; empty when not known).
        created: When it was opened (timezone-aware), when the server says.

    Raises:
        ValueError: ``state`` is unknown or ``updated`` is naive.
    """

    repo: str
    id: int
    title: str
    description: str
    state: PrState
    source_branch: str
    destination_branch: str
    web_url: str
    updated: datetime
    author: str
    source_commit: str = ""
    created: datetime | None = None

    def __post_init__(self) -> None:
        if self.state not in PR_STATES:
            raise ValueError(f"unknown pull request state {self.state!r}")
        if self.updated.tzinfo is None or self.updated.utcoffset() is None:
            raise ValueError("PullRequest.updated must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Commit:
    """A commit of a pull request.

    Args:
        hash: The full commit hash.
        message: The commit message.
        author: The author's name as recorded.
        parents: The hashes of its parents (two or more for a merge; empty when not read).
    """

    hash: str
    message: str
    author: str
    parents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Branch:
    """A branch and the commit it points at.

    Args:
        name: The branch name without ``refs/heads/``.
        target: The hash of its latest commit.
    """

    name: str
    target: str


@dataclass(frozen=True, slots=True)
class RemoteLink:
    """A Jira remote (web) link on an issue.

    Args:
        id: Jira's numeric id of the link.
        global_id: The caller-chosen global id, used to upsert; ``None`` if unset.
        url: Where the link points.
        title: The link text.
        resolved: Whether Jira shows it struck through (resolved).
    """

    id: int
    global_id: str | None
    url: str
    title: str
    resolved: bool


@dataclass(frozen=True, slots=True)
class Transition:
    """A workflow transition available on an issue now.

    Args:
        id: Jira's id of the transition (a string of digits).
        name: The transition name, e.g. ``"Start work"``.
        to_status: The status it leads to, e.g. ``"In Progress"``.
        required_fields: Ids of the fields its screen requires (e.g. ``"resolution"``);
            known only when the transitions were read with their fields.
        to_category: The category of the status it leads to (``new``,
            ``indeterminate``, ``done``), or ``""`` when the server did not say.
        screen_fields: Ids of every field on its screen (required or not); known
            only when read with their fields.
    """

    id: str
    name: str
    to_status: str
    required_fields: tuple[str, ...] = ()
    to_category: str = ""
    screen_fields: tuple[str, ...] = ()

    @staticmethod
    def pick(options: Sequence[Transition], name_or_status: str) -> Transition | None:
        """Return the transition named ``name_or_status``, else one leading to that status.

        Both compare case-insensitively; a name wins over a target status.

        Args:
            options: The transitions available now.
            name_or_status: A transition name or a status name.

        Returns:
            The matching transition, or ``None``.
        """
        wanted = name_or_status.casefold()
        by_name = next((t for t in options if t.name.casefold() == wanted), None)
        return by_name or next((t for t in options if t.to_status.casefold() == wanted), None)


@dataclass(frozen=True, slots=True)
class IssueState:
    """Where an issue stands in its workflow now, and where it can go from there.

    Args:
        status: The status name.
        category: Its category: ``new``, ``indeterminate`` or ``done``.
        transitions: The transitions available from it, with their screens' fields.
    """

    status: str
    category: str
    transitions: tuple[Transition, ...]


@dataclass(frozen=True, slots=True)
class Comment:
    """A Jira comment, as plain text (Cloud's ADF bodies are flattened).

    Args:
        id: Jira's id of the comment.
        text: The comment text.
    """

    id: str
    text: str


@dataclass(frozen=True, slots=True)
class User:
    """The account a token acts as.

    Args:
        name: The user name (Data Center) or account id / user name (Cloud).
        display_name: The name shown in the user interface.
        email: The email, when the server reveals it.
    """

    name: str
    display_name: str
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Version:
    """A Jira project version (what an issue's fixVersion names).

    Args:
        id: Jira's id of the version (a string of digits).
        name: The version name, e.g. ``"2.4.0"``; unique within its project.
        released: Whether it is marked released.
        release_date: Its release date, if set.
        project: The project key (empty when Jira's answer does not name it, as after an update).
    """

    id: str
    name: str
    released: bool
    release_date: date | None
    project: str
