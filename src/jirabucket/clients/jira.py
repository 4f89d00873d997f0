"""JiraClient: every Jira call as a named, queued operation with JSON arguments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from jirabucket.clients._jira_api import JiraApi
from jirabucket.clients._queued import QueueLink
from jirabucket.hosts import host_key
from jirabucket.models import Comment, Flavor, Issue, IssueLookup, RemoteLink, Transition, User
from jirabucket.tokens import JiraToken, require_token

if TYPE_CHECKING:
    from jirabucket.queue import TaskQueue

__all__ = ["JiraClient"]


class JiraClient:
    """Jira Cloud or Data Center, each call a task on the queue under the key ``jira:<host>``.

    Reads return :mod:`jirabucket.models` values; failures raise the
    :mod:`jirabucket.errors` tree after the queue's retries.

    Args:
        url: The Jira base URL (https; plain http only for loopback).
        token: A :class:`~jirabucket.tokens.JiraToken`.
        flavor: ``"cloud"`` or ``"datacenter"``; ``None`` infers it (``*.atlassian.net`` is Cloud).
        queue: A shared queue; ``None`` makes a private one that :meth:`close` closes.
        timeout: Seconds per HTTP request.

    Raises:
        TypeError: ``token`` is not a JiraToken.
        ConfigError: The URL is unsafe or malformed.
    """

    def __init__(
        self, url: str, token: JiraToken, *, flavor: Flavor | None = None,
        queue: TaskQueue | None = None, timeout: float = 30.0,
    ) -> None:
        require_token(token, JiraToken, who="JiraClient")
        self.api = JiraApi(url, token, flavor=flavor, timeout=timeout)
        self.flavor: Flavor = self.api.flavor
        self.key = self.queue_key(self.api.base_url)
        self._link = QueueLink(queue, key=self.key)
        self._link.register(self._handlers())

    @staticmethod
    def queue_key(url: str) -> str:
        """Return the queue key of a Jira client for ``url``: ``"jira:<host[:port]>"``."""
        return f"jira:{host_key(url)}"

    def _handlers(self) -> dict[str, Any]:
        api = self.api
        return {
            "jira.myself": lambda a: api.myself(),
            "jira.get_issues": lambda a: api.get_issues(a["keys"]),
            "jira.search_page": lambda a: api.search_page(a["jql"], cursor=a.get("cursor")),
            "jira.remote_links": lambda a: api.remote_links(a["key"]),
            "jira.upsert_remote_link": lambda a: api.upsert_remote_link(
                a["key"], global_id=a["global_id"], url=a["url"], title=a["title"],
                resolved=a["resolved"]),
            "jira.comments": lambda a: api.comments(a["key"]),
            "jira.add_comment": lambda a: api.add_comment(a["key"], a["text"]),
            "jira.transitions": lambda a: api.transitions(a["key"]),
            "jira.transition": lambda a: api.transition(a["key"], a["name_or_status"]),
        }

    def _run(self, operation: str, args: Mapping[str, Any], *, idempotent: bool = True,
             subkey: str | None = None) -> Any:
        return self._link.run(f"jira.{operation}", args, idempotent=idempotent, subkey=subkey)

    def myself(self) -> User:
        """Return the account the token acts as (queued ``jira.myself``)."""
        result: User = self._run("myself", {})
        return result

    def get_issues(self, keys: Sequence[str]) -> IssueLookup:
        """Fetch issues by key in batches; see :meth:`JiraApi.get_issues` (``jira.get_issues``)."""
        result: IssueLookup = self._run("get_issues", {"keys": list(keys)})
        return result

    def search(self, jql: str) -> Iterator[Issue]:
        """Yield every issue matching ``jql``, one queued ``jira.search_page`` per page, lazily.

        Raises:
            ApiError: A page request failed.
        """
        cursor: str | int | None = None
        while True:
            page, cursor = self._run("search_page", {"jql": jql, "cursor": cursor})
            yield from page
            if cursor is None:
                return

    def remote_links(self, key: str) -> list[RemoteLink]:
        """Return the issue's remote links (``jira.remote_links``)."""
        result: list[RemoteLink] = self._run("remote_links", {"key": key})
        return result

    def upsert_remote_link(
        self, key: str, *, global_id: str, url: str, title: str, resolved: bool
    ) -> int:
        """Create or update a remote link by ``global_id`` (``jira.upsert_remote_link``, idempotent).

        Returns:
            Jira's id of the link.
        """
        args = {"key": key, "global_id": global_id, "url": url, "title": title,
                "resolved": resolved}
        result: int = self._run("upsert_remote_link", args, subkey=key)
        return result

    def comments(self, key: str) -> list[Comment]:
        """Return the issue's comments as plain text (``jira.comments``)."""
        result: list[Comment] = self._run("comments", {"key": key})
        return result

    def add_comment(self, key: str, text: str) -> Comment:
        """Add a comment (``jira.add_comment``, not idempotent: never blindly repeated)."""
        args = {"key": key, "text": text}
        result: Comment = self._run("add_comment", args, idempotent=False, subkey=key)
        return result

    def transitions(self, key: str) -> list[Transition]:
        """Return the transitions available on the issue (``jira.transitions``)."""
        result: list[Transition] = self._run("transitions", {"key": key})
        return result

    def transition(self, key: str, name_or_status: str) -> bool:
        """Move the issue by transition name or target status (``jira.transition``).

        Returns:
            ``True`` if it moved, ``False`` if it was already in that status.

        Raises:
            PermanentError: No available transition matches.
        """
        args = {"key": key, "name_or_status": name_or_status}
        result: bool = self._run("transition", args, subkey=key)
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
