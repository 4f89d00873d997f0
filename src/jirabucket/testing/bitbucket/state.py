"""Bitbucket repository state shared by the Cloud and Data Center simulators."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from jirabucket.testing.http.messages import BadRequest

__all__ = [
    "BitbucketState",
    "PullRequestSnapshot",
    "StoredCommit",
    "StoredPrComment",
    "StoredPullRequest",
    "StoredRepo",
    "commit_hash",
]

_EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


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


@dataclass
class StoredCommit:
    """A commit (private, mutable)."""

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
    commits: list[StoredCommit] = field(default_factory=list)
    comments: list[StoredPrComment] = field(default_factory=list)


@dataclass
class StoredRepo:
    """A repository (private, mutable)."""

    name: str
    pull_requests: dict[int, StoredPullRequest] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)

    @property
    def owner(self) -> str:
        """Workspace (Cloud) or project key (Data Center)."""
        return self.name.split("/", 1)[0]

    @property
    def slug(self) -> str:
        """Repository slug."""
        return self.name.split("/", 1)[1]


class BitbucketState:
    """Repositories, pull requests, commits, comments, branches. The simulator's lock guards it.

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

    def _seen(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        self._latest = max(self._latest, moment)
        return moment

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
    ) -> StoredPullRequest:
        """Add a pull request, its commits and its source branch.

        Raises:
            ValueError: Unknown state, duplicate id or naive timestamp.
        """
        stored = self.repo(repo)
        if fields["state"] not in self.states:
            raise ValueError(f"unknown state {fields['state']!r}; use one of {sorted(self.states)}")
        new_id = pr_id if pr_id is not None else max(stored.pull_requests, default=0) + 1
        if new_id in stored.pull_requests:
            raise ValueError(f"pull request {new_id} already exists in {repo}")
        when = self._seen(updated) if updated is not None else self._seen(self.tick())
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
        )
        pr.commits = [
            StoredCommit(commit_hash(repo, new_id, i, message), message, when) for i, message in enumerate(commits)
        ]
        head = pr.commits[-1].hash if pr.commits else commit_hash(repo, new_id, "head")
        stored.branches.setdefault(pr.source_branch, head)
        stored.branches.setdefault(pr.destination_branch, commit_hash(repo, "main"))
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
        pr.updated = self._seen(updated if updated is not None else self.now())

    def add_comment(self, pr: StoredPullRequest, *, text: str, author: str) -> StoredPrComment:
        """Add a comment and return it; like the products, a comment bumps ``updated``."""
        comment = StoredPrComment(self._next_comment_id, text, author, self._seen(self.now()))
        self._next_comment_id += 1
        pr.comments.append(comment)
        pr.updated = comment.created
        return comment

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
        )
