"""BitbucketClient: every Bitbucket call as a named, queued operation with JSON arguments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from jirabucket.clients._bitbucket_api import BitbucketApi
from jirabucket.clients._bitbucket_json import parse_repo, to_utc
from jirabucket.clients._queued import QueueLink
from jirabucket.hosts import host_key
from jirabucket.models import DEFAULT_PR_STATES, Branch, Commit, Flavor, PullRequest, User
from jirabucket.tokens import BitbucketToken, require_token

if TYPE_CHECKING:
    from jirabucket.queue import TaskQueue

__all__ = ["BitbucketClient"]


class BitbucketClient:
    """Bitbucket Cloud or Data Center, each call a task on the queue under ``bitbucket:<host>``.

    Args:
        url: The Bitbucket base URL (https; plain http only for loopback).
        token: A :class:`~jirabucket.tokens.BitbucketToken`.
        flavor: ``"cloud"`` or ``"datacenter"``; ``None`` infers it (bitbucket.org is Cloud).
        queue: A shared queue; ``None`` makes a private one that :meth:`close` closes.
        timeout: Seconds per HTTP request.

    Raises:
        TypeError: ``token`` is not a BitbucketToken.
        ConfigError: The URL is unsafe or malformed.
    """

    def __init__(
        self, url: str, token: BitbucketToken, *, flavor: Flavor | None = None,
        queue: TaskQueue | None = None, timeout: float = 30.0,
    ) -> None:
        require_token(token, BitbucketToken, who="BitbucketClient")
        self.api = BitbucketApi(url, token, flavor=flavor, timeout=timeout)
        self.flavor: Flavor = self.api.flavor
        self.key = self.queue_key(self.api.base_url)
        self._link = QueueLink(queue, key=self.key)
        self._link.register(self._handlers())

    @staticmethod
    def queue_key(url: str) -> str:
        """Return the queue key of a Bitbucket client for ``url``: ``"bitbucket:<host[:port]>"``."""
        return f"bitbucket:{host_key(url)}"

    def _handlers(self) -> dict[str, Any]:
        api = self.api
        return {
            "bitbucket.whoami": lambda a: api.whoami(),
            "bitbucket.repository": lambda a: api.repository(a["repo"]),
            "bitbucket.pull_requests_page": lambda a: api.pull_requests_page(
                a["repo"], states=a["states"], updated_since=a.get("updated_since"),
                cursor=a.get("cursor")),
            "bitbucket.pull_request_commits": lambda a: api.pull_request_commits(
                a["repo"], a["pr_id"]),
            "bitbucket.add_pr_comment": lambda a: api.add_pr_comment(
                a["repo"], a["pr_id"], a["text"]),
            "bitbucket.branches": lambda a: api.branches(a["repo"]),
            "bitbucket.create_branch": lambda a: api.create_branch(
                a["repo"], a["name"], a["start"]),
        }

    def _run(self, operation: str, args: Mapping[str, Any], *, idempotent: bool = True,
             subkey: str | None = None) -> Any:
        return self._link.run(
            f"bitbucket.{operation}", args, idempotent=idempotent, subkey=subkey
        )

    def whoami(self) -> User:
        """Return the account the token acts as (``bitbucket.whoami``)."""
        result: User = self._run("whoami", {})
        return result

    def repository(self, repo: str) -> dict[str, Any]:
        """Return the repository's JSON (``bitbucket.repository``); NotFound if there is none."""
        parse_repo(repo)
        result: dict[str, Any] = self._run("repository", {"repo": repo})
        return result

    def pull_requests(
        self, repo: str, *, states: Sequence[str] = DEFAULT_PR_STATES,
        updated_since: datetime | None = None,
    ) -> Iterator[PullRequest]:
        """Yield pull requests, newest update first, one queued page at a time, lazily.

        Args:
            repo: ``"workspace/slug"`` (Cloud) or ``"PROJECT/slug"`` (Data Center).
            states: The states wanted.
            updated_since: Stop at pull requests updated at or before this moment.

        Raises:
            ConfigError: ``repo`` is malformed.
            ApiError: A page request failed.
        """
        parse_repo(repo)
        args: dict[str, Any] = {
            "repo": repo, "states": [s.upper() for s in states], "cursor": None,
            "updated_since": None if updated_since is None else to_utc(updated_since).isoformat(),
        }
        while True:
            page, args["cursor"] = self._run("pull_requests_page", dict(args))
            yield from page
            if args["cursor"] is None:
                return

    def pull_request_commits(self, repo: str, pr_id: int) -> list[Commit]:
        """Return the commits of a pull request (``bitbucket.pull_request_commits``)."""
        result: list[Commit] = self._run("pull_request_commits", {"repo": repo, "pr_id": pr_id})
        return result

    def add_pr_comment(self, repo: str, pr_id: int, text: str) -> None:
        """Comment on a pull request (``bitbucket.add_pr_comment``, not idempotent)."""
        args = {"repo": repo, "pr_id": pr_id, "text": text}
        self._run("add_pr_comment", args, idempotent=False, subkey=f"{repo}#{pr_id}")

    def branches(self, repo: str) -> list[Branch]:
        """Return every branch of the repository (``bitbucket.branches``)."""
        result: list[Branch] = self._run("branches", {"repo": repo})
        return result

    def create_branch(self, repo: str, name: str, start: str) -> Branch:
        """Create a branch at ``start`` (``bitbucket.create_branch``, not idempotent)."""
        args = {"repo": repo, "name": name, "start": start}
        result: Branch = self._run("create_branch", args, idempotent=False, subkey=repo)
        return result

    def close(self) -> None:
        """Close the private queue (if any) and the HTTP session."""
        self._link.close()
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
