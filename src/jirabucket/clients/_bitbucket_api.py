"""BitbucketApi: synchronous Bitbucket calls (Cloud 2.0, Data Center 1.0), no queue."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from atlassian import Bitbucket
from atlassian.bitbucket.cloud import Cloud

from jirabucket.clients import _bitbucket_json as bj
from jirabucket.clients._http import ApiBase, Transport, check_base_url, rest_options
from jirabucket.errors import AuthError, ConfigError, NotFound
from jirabucket.hosts import infer_bitbucket_flavor
from jirabucket.models import DEFAULT_PR_STATES, PR_STATES, Branch, Commit, Flavor, PullRequest, User
from jirabucket.tokens import BitbucketToken, require_token

__all__ = ["BitbucketApi"]

Cursor = str | int | None
_CLOUD_PAGE = 50  # Bitbucket Cloud's maximum pagelen for pull requests
_DC_PAGE = 100
_T = TypeVar("_T")




def _with_params(url: str, params: Mapping[str, Any]) -> str:
    """Return ``url`` with each of ``params`` added unless the URL already has it.

    Keeps ``q``, ``state`` and ``sort`` on every Cloud page even if a ``next``
    link were to drop them (a known atlassian-python-api paging bug).
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    for name, value in params.items():
        if name not in present:
            values = value if isinstance(value, list | tuple) else [value]
            query.extend((name, str(v)) for v in values)
    return urlunsplit(parts._replace(query=urlencode(query)))


class BitbucketApi(ApiBase):
    """Bitbucket's REST API, blocking calls in the calling thread, no retries.

    Args:
        url: The Bitbucket base URL (``https://bitbucket.org`` or ``https://api.bitbucket.org``
            for Cloud, the server's URL for Data Center; plain http only for loopback).
        token: The Bitbucket token.
        flavor: ``"cloud"`` or ``"datacenter"``; inferred from the host when ``None``.
        timeout: Seconds per request before giving up.

    Raises:
        TypeError: ``token`` is not a :class:`BitbucketToken`.
        ConfigError: The URL is unsafe or malformed.
    """

    def __init__(
        self, url: str, token: BitbucketToken, *, flavor: Flavor | None = None,
        timeout: float = 30.0,
    ) -> None:
        require_token(token, BitbucketToken, who="BitbucketApi")
        base = check_base_url(url, what="Bitbucket")
        self.flavor: Flavor = flavor or infer_bitbucket_flavor(base)
        self._cloud = self.flavor == "cloud"
        options = rest_options(token.auth())
        if self._cloud:
            # The web host serves no API; Cloud() appends /2.0 itself.
            base = base.replace("://bitbucket.org", "://api.bitbucket.org")
            rest: object = cast(Any, Cloud)(base, **options)
        else:
            rest = cast(Any, Bitbucket)(base, cloud=False, **options)
        self._http = Transport(rest, timeout=timeout)

    def _repo_path(self, repo: str) -> str:
        owner, slug = bj.parse_repo(repo)
        if self._cloud:
            return f"repositories/{owner}/{slug}"
        return f"rest/api/1.0/projects/{owner}/repos/{slug}"

    def _all(self, path: str, parse: Callable[[Mapping[str, Any]], _T]) -> list[_T]:
        """Return every item of a paged list (Cloud ``next``, Data Center ``nextPageStart``)."""
        items: list[_T] = []
        if self._cloud:
            data = self._http.call("GET", path, params={"pagelen": 100})
            items.extend(parse(v) for v in data.get("values", []))
            while data.get("next"):
                data = self._http.call("GET", str(data["next"]), absolute=True)
                items.extend(parse(v) for v in data.get("values", []))
            return items
        start: int | None = 0
        while start is not None:
            data = self._http.call("GET", path, params={"start": start, "limit": _DC_PAGE})
            items.extend(parse(v) for v in data.get("values", []))
            start = None if data.get("isLastPage", True) else int(data["nextPageStart"])
        return items

    def whoami(self) -> User:
        """Return the account the token acts as (Cloud ``/2.0/user``, Data Center ``whoami``).

        Raises:
            AuthError: The server does not know the token.
            ApiError: The request failed.
        """
        if self._cloud:
            return bj.user_from_cloud(self._http.call("GET", "user"))
        answer = self._http.call("GET", "plugins/servlet/applinks/whoami")
        name = "" if answer is None else str(answer).strip()
        if not name or "/" in name:
            raise AuthError("Bitbucket does not know this token (whoami is anonymous)")
        try:
            data = self._http.call("GET", f"rest/api/1.0/users/{quote(name, safe='')}")
        except NotFound:  # a user without a profile to read: the name is all there is
            return User(name=name, display_name=name, email=None)
        return User(name=name, display_name=str(data.get("displayName") or name),
                    email=data.get("emailAddress") or None)

    def repository(self, repo: str) -> dict[str, Any]:
        """Return the repository's JSON.

        Raises:
            ConfigError: ``repo`` is malformed.
            NotFound: No such repository (or no access to it).
        """
        return dict(self._http.call("GET", self._repo_path(repo)))

    def pull_requests_page(
        self, repo: str, *, states: Sequence[str] = DEFAULT_PR_STATES,
        updated_since: datetime | str | None = None, cursor: Cursor = None,
    ) -> tuple[list[PullRequest], Cursor]:
        """Return one page of pull requests, newest update first, and the next cursor.

        Args:
            repo: ``"workspace/slug"`` or ``"PROJECT/slug"``.
            states: The states wanted (``OPEN``, ``MERGED``, ``DECLINED``, ``SUPERSEDED``).
            updated_since: Only pull requests updated after this (ISO text or aware datetime).
            cursor: ``None`` for the first page, else what the previous page returned.

        Returns:
            The page and the next cursor (``None`` when done). Cursors are JSON values.

        Raises:
            ConfigError: ``repo`` or a state is malformed.
            ApiError: The request failed.
        """
        wanted = [s.upper() for s in states]
        if not wanted or not set(wanted) <= PR_STATES:
            raise ConfigError(f"unknown pull request states {list(states)!r}")
        since = None if updated_since is None else bj.to_utc(updated_since)
        if self._cloud:
            page, cursor = self._cloud_page(repo, wanted, since, cursor)
        else:
            page, cursor = self._dc_page(repo, wanted, cursor)
        if since is not None:
            kept = [pr for pr in page if pr.updated > since]
            # Newest first: one older pull request means the rest are older too.
            page, cursor = kept, (cursor if len(kept) == len(page) else None)
        return page, cursor

    def _cloud_page(
        self, repo: str, states: list[str], since: datetime | None, cursor: Cursor
    ) -> tuple[list[PullRequest], Cursor]:
        params: dict[str, Any] = {"state": states, "sort": "-updated_on", "pagelen": _CLOUD_PAGE}
        if since is not None:
            params["q"] = f'updated_on > "{since.isoformat()}"'
        if cursor is None:
            data = self._http.call("GET", f"{self._repo_path(repo)}/pullrequests", params=params)
        else:
            data = self._http.call("GET", _with_params(str(cursor), params), absolute=True)
        page = [bj.pr_from_cloud(repo, item) for item in data.get("values", [])]
        return page, (str(data["next"]) if data.get("next") else None)

    def _dc_page(
        self, repo: str, states: list[str], cursor: Cursor
    ) -> tuple[list[PullRequest], Cursor]:
        state = states[0] if len(states) == 1 and states[0] != "SUPERSEDED" else "ALL"
        params = {"state": state, "order": "NEWEST", "start": int(cursor or 0), "limit": _DC_PAGE}
        data = self._http.call("GET", f"{self._repo_path(repo)}/pull-requests", params=params)
        page = [bj.pr_from_datacenter(repo, item) for item in data.get("values", [])]
        after = None if data.get("isLastPage", True) else int(data["nextPageStart"])
        return [pr for pr in page if pr.state in states], after

    def pull_request_commits(self, repo: str, pr_id: int) -> list[Commit]:
        """Return the commits of a pull request.

        Raises:
            ConfigError: ``repo`` is malformed.
            ApiError: A request failed (NotFound for no such pull request).
        """
        kind = "pullrequests" if self._cloud else "pull-requests"
        parse = bj.commit_from_cloud if self._cloud else bj.commit_from_datacenter
        return self._all(f"{self._repo_path(repo)}/{kind}/{int(pr_id)}/commits", parse)

    def add_pr_comment(self, repo: str, pr_id: int, text: str) -> None:
        """Add a comment to a pull request. Not safe to repeat.

        Raises:
            ConfigError: ``repo`` is malformed.
            ApiError: The request failed.
        """
        if self._cloud:
            path = f"{self._repo_path(repo)}/pullrequests/{int(pr_id)}/comments"
            self._http.call("POST", path, json={"content": {"raw": text}})
        else:
            path = f"{self._repo_path(repo)}/pull-requests/{int(pr_id)}/comments"
            self._http.call("POST", path, json={"text": text})

    def branches(self, repo: str) -> list[Branch]:
        """Return every branch of the repository.

        Raises:
            ConfigError: ``repo`` is malformed.
            ApiError: A request failed.
        """
        if self._cloud:
            return self._all(f"{self._repo_path(repo)}/refs/branches", bj.branch_from_cloud)
        return self._all(f"{self._repo_path(repo)}/branches", bj.branch_from_datacenter)

    def create_branch(self, repo: str, name: str, start: str) -> Branch:
        """Create branch ``name`` at ``start`` (a commit hash; Data Center also takes a branch).

        Raises:
            ConfigError: ``repo`` is malformed.
            ApiError: The request failed (PermanentError when it exists already).
        """
        if self._cloud:
            body: dict[str, Any] = {"name": name, "target": {"hash": start}}
            data = self._http.call("POST", f"{self._repo_path(repo)}/refs/branches", json=body)
            return bj.branch_from_cloud(data)
        body = {"name": name, "startPoint": start}
        data = self._http.call("POST", f"{self._repo_path(repo)}/branches", json=body)
        return bj.branch_from_datacenter(data)

