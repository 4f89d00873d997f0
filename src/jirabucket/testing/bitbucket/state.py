"""Bitbucket repository state shared by the Cloud and Data Center simulators.

Repositories with a commit graph, branches and tags; pull requests with their
commits and comments; build statuses per commit. A pull request's commits are
part of the graph too: they sit on top of its source branch (or, for a new
branch, on the destination branch's head), so its head commit resolves like any
other. A pull request seeded without commits gets a head commit in the graph
(so statuses can be posted to it) that its commits endpoint does not list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from jirabucket.testing.bitbucket.graph import CommitGraph
from jirabucket.testing.http.messages import BadRequest

__all__ = [
    "AuthorKind",
    "BitbucketState",
    "BuildStatusSnapshot",
    "PullRequestSnapshot",
    "StoredBuildStatus",
    "StoredCommit",
    "StoredPrComment",
    "StoredPullRequest",
    "StoredRepo",
    "commit_hash",
]

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

AuthorKind = Literal["user", "app"]
"""A pull request author: a person (``user``) or an app / access-token identity (``app``)."""


def commit_hash(*parts: object) -> str:
    """Return a deterministic 40-hex commit hash for these parts."""
    return hashlib.sha1(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class PullRequestSnapshot:
    """A pull request's state at one moment, as tests read it.

    Attributes:
        repo: ``workspace/slug`` (Cloud) or ``PROJECTKEY/slug`` (Data Center).
        id: Pull request id.
        title: Title.
        description: Description.
        source_branch: Source branch name.
        destination_branch: Destination branch name.
        state: ``OPEN``, ``MERGED``, ``DECLINED`` (Cloud also ``SUPERSEDED``).
        author: Author display name.
        created: When it was opened.
        updated: When it last changed.
        commits: Commit messages, oldest first.
        comments: Comment texts, oldest first.
        web_url: The pull request's page, as the product links it.
        source_commit: The full hash of its head (source) commit.
        author_kind: ``user`` or ``app`` (a bot: Cloud ``app_user``, Data Center ``SERVICE``).
    """

    repo: str
    id: int
    title: str
    description: str
    source_branch: str
    destination_branch: str
    state: str
    author: str
    created: datetime
    updated: datetime
    commits: tuple[str, ...]
    comments: tuple[str, ...]
    web_url: str
    source_commit: str = ""
    author_kind: AuthorKind = "user"


@dataclass(frozen=True, slots=True)
class BuildStatusSnapshot:
    """A commit's build status, as tests read it.

    Attributes:
        key: The status key (one status per key and commit; posting the key again overwrites).
        state: ``SUCCESSFUL``, ``FAILED``, ``INPROGRESS``, and ``STOPPED`` (Cloud)
            or ``CANCELLED`` / ``UNKNOWN`` (Data Center).
        url: The link the status carries.
        name: Its name.
        description: Its description.
        ref: The ref it was posted for (Cloud ``refname``, Data Center ``ref``), if given.
        created: When the key was first posted.
        updated: When it was last posted.
    """

    key: str
    state: str
    url: str
    name: str
    description: str
    ref: str | None
    created: datetime
    updated: datetime


@dataclass
class StoredCommit:
    """A pull request's commit (private, mutable)."""

    hash: str
    message: str
    date: datetime


@dataclass
class StoredPrComment:
    """A pull request comment (private, mutable)."""

    id: int
    text: str
    author: str
    created: datetime


@dataclass
class StoredBuildStatus:
    """A build status (private, mutable)."""

    key: str
    state: str
    url: str
    name: str
    description: str
    ref: str | None
    created: datetime
    updated: datetime

    def snapshot(self) -> BuildStatusSnapshot:
        """Return a frozen copy."""
        return BuildStatusSnapshot(
            self.key, self.state, self.url, self.name, self.description, self.ref, self.created, self.updated
        )


@dataclass
class StoredPullRequest:
    """A pull request (private, mutable)."""

    repo: str
    id: int
    title: str
    description: str
    source_branch: str
    destination_branch: str
    state: str
    author: str
    created: datetime
    updated: datetime
    head: str = ""
    author_kind: AuthorKind = "user"
    commits_broken: bool = False
    commits: list[StoredCommit] = field(default_factory=list)
    comments: list[StoredPrComment] = field(default_factory=list)


@dataclass
class StoredRepo:
    """A repository (private, mutable)."""

    name: str
    pull_requests: dict[int, StoredPullRequest] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    graph: CommitGraph = field(default_factory=CommitGraph)
    statuses: dict[str, dict[str, StoredBuildStatus]] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        """Workspace (Cloud) or project key (Data Center)."""
        return self.name.split("/", 1)[0]

    @property
    def slug(self) -> str:
        """Repository slug."""
        return self.name.split("/", 1)[1]

    def resolve(self, ref: str) -> str | None:
        """Return the commit a branch, tag, hash or hash prefix names, or ``None``."""
        return self.graph.resolve(ref, self.branches, self.tags)


class BitbucketState:
    """Repositories, pull requests, commits, comments, branches, statuses. The simulator's lock guards it.

    Args:
        states: The pull request states this flavor knows.
    """

    def __init__(self, *, states: frozenset[str]) -> None:
        self.repos: dict[str, StoredRepo] = {}
        self.states = states
        self._ticks = 0
        self._latest = _EPOCH
        self._next_comment_id = 1

    def tick(self) -> datetime:
        """Return the deterministic default clock's next reading."""
        self._ticks += 1
        return max(_EPOCH + timedelta(minutes=self._ticks), self._latest + timedelta(seconds=1))

    def now(self) -> datetime:
        """Return "now": the wall clock, but never before any time already handed out."""
        return max(datetime.now(UTC), self._latest + timedelta(milliseconds=1))

    def seen(self, moment: datetime) -> datetime:
        """Check a given time is aware and remember it (later defaults come after it).

        Raises:
            ValueError: The time is naive.
        """
        if moment.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        self._latest = max(self._latest, moment)
        return moment

    def create_repo(self, name: str) -> StoredRepo:
        """Create a repository whose ``main`` branch holds one root commit (no-op if it exists)."""
        if name not in self.repos:
            repo = StoredRepo(name)
            root = repo.graph.add(commit_hash(name, "main"), "Initial commit", (), "Alice", _EPOCH - timedelta(days=1))
            repo.branches["main"] = root.hash
            self.repos[name] = repo
        return self.repos[name]

    def repo(self, name: str) -> StoredRepo:
        """Return a repository.

        Raises:
            BadRequest: 404 when there is no such repository.
        """
        found = self.repos.get(name)
        if found is None:
            raise BadRequest(f"Repository {name} not found", status=404)
        return found

    def pull_request(self, repo: str, pr_id: int | str) -> StoredPullRequest:
        """Return a pull request.

        Raises:
            BadRequest: 404 when there is no such repository or pull request.
        """
        stored = self.repo(repo)
        found = stored.pull_requests.get(int(pr_id))
        if found is None:
            raise BadRequest(f"Pull request {pr_id} not found in {repo}", status=404)
        return found

    def add_pull_request(
        self,
        repo: str,
        *,
        pr_id: int | None,
        fields: dict[str, str],
        updated: datetime | None,
        commits: Sequence[str],
        author_kind: AuthorKind = "user",
    ) -> StoredPullRequest:
        """Add a pull request, its commits (into the graph too) and its source branch.

        Raises:
            ValueError: Unknown state, duplicate id or naive timestamp.
        """
        stored = self.repo(repo)
        if fields["state"] not in self.states:
            raise ValueError(f"unknown state {fields['state']!r}; use one of {sorted(self.states)}")
        new_id = pr_id if pr_id is not None else max(stored.pull_requests, default=0) + 1
        if new_id in stored.pull_requests:
            raise ValueError(f"pull request {new_id} already exists in {repo}")
        when = self.seen(updated) if updated is not None else self.seen(self.tick())
        pr = StoredPullRequest(
            repo=repo,
            id=new_id,
            title=fields["title"],
            description=fields["description"],
            source_branch=fields["source_branch"],
            destination_branch=fields["destination_branch"],
            state=fields["state"],
            author=fields["author"],
            created=when,
            updated=when,
            author_kind=author_kind,
        )
        main = stored.branches.get("main") or commit_hash(repo, "main")
        base = stored.branches.setdefault(pr.destination_branch, main)
        parent = stored.branches.get(pr.source_branch, base)
        for index, message in enumerate(commits):
            commit = stored.graph.add(commit_hash(repo, new_id, index, message), message, (parent,), pr.author, when)
            pr.commits.append(StoredCommit(commit.hash, message, when))
            parent = commit.hash
        if not commits and pr.source_branch not in stored.branches:
            parent = stored.graph.add(commit_hash(repo, new_id, "head"), pr.title, (parent,), pr.author, when).hash
        pr.head = parent
        stored.branches[pr.source_branch] = parent
        stored.pull_requests[new_id] = pr
        return pr

    def update_pull_request(self, pr: StoredPullRequest, *, changes: dict[str, str], updated: datetime | None) -> None:
        """Change a pull request and bump its ``updated`` time.

        Raises:
            ValueError: Unknown state or naive timestamp.
        """
        if "state" in changes and changes["state"] not in self.states:
            raise ValueError(f"unknown state {changes['state']!r}")
        for name, value in changes.items():
            setattr(pr, name, value)
        pr.updated = self.seen(updated if updated is not None else self.now())

    def add_comment(self, pr: StoredPullRequest, *, text: str, author: str) -> StoredPrComment:
        """Add a comment and return it; like the products, a comment bumps ``updated``."""
        comment = StoredPrComment(self._next_comment_id, text, author, self.seen(self.now()))
        self._next_comment_id += 1
        pr.comments.append(comment)
        pr.updated = comment.created
        return comment

    def set_build_status(
        self,
        repo: StoredRepo,
        commit: str,
        *,
        key: str,
        state: str,
        url: str,
        name: str,
        description: str,
        ref: str | None,
    ) -> tuple[StoredBuildStatus, bool]:
        """Store a build status on a (full) commit hash; the same key overwrites.

        Returns:
            The status and whether the key was new for this commit.
        """
        stamp = self.seen(self.now())
        by_key = repo.statuses.setdefault(commit, {})
        existing = by_key.get(key)
        if existing is not None:
            existing.state, existing.url, existing.name = state, url, name
            existing.description, existing.ref, existing.updated = description, ref, stamp
            return existing, False
        status = StoredBuildStatus(key, state, url, name, description, ref, stamp, stamp)
        by_key[key] = status
        return status, True

    def snapshot(self, pr: StoredPullRequest, web_url: str) -> PullRequestSnapshot:
        """Return a frozen copy of a pull request."""
        return PullRequestSnapshot(
            repo=pr.repo,
            id=pr.id,
            title=pr.title,
            description=pr.description,
            source_branch=pr.source_branch,
            destination_branch=pr.destination_branch,
            state=pr.state,
            author=pr.author,
            created=pr.created,
            updated=pr.updated,
            commits=tuple(c.message for c in pr.commits),
            comments=tuple(c.text for c in pr.comments),
            web_url=web_url,
            source_commit=pr.head,
            author_kind=pr.author_kind,
        )
