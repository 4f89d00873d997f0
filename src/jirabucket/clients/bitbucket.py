"""Bitbucket (Cloud 2.0, Data Center 1.0): every operation declared once, run in-thread or queued.

:class:`BitbucketEndpoints` is the table; :class:`BitbucketApi` runs its
operations in the calling thread (inside queue tasks), :class:`BitbucketClient`
runs each as a task on the queue under ``bitbucket:<host>``. See
:mod:`jirabucket.clients.operations`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar, cast
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from atlassian import Bitbucket
from atlassian.bitbucket.cloud import Cloud

from jirabucket.clients import bitbucket_json as bj
from jirabucket.clients.operations import (
    Cursor,
    DirectRunner,
    Endpoints,
    Page,
    QueuedRunner,
    Retry,
    TaskSink,
    operation,
)
from jirabucket.clients.transport import Transport, check_base_url, rest_options
from jirabucket.errors import AuthError, ConfigError, NotFound
from jirabucket.hosts import host_key, infer_bitbucket_flavor
from jirabucket.models import DEFAULT_PR_STATES, PR_STATES, Branch, Commit, Flavor, PullRequest, User
from jirabucket.tokens import BitbucketToken, require_token

__all__ = ["BitbucketApi", "BitbucketClient", "BitbucketEndpoints", "BuildState"]

#: A commit build status's state as Cloud names it; Data Center calls STOPPED "CANCELLED".
BuildState = Literal["SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED"]

_CLOUD_PAGE = 50  # Bitbucket Cloud's maximum pagelen for pull requests
_CLOUD_COMMITS_PAGE = 100  # its maximum pagelen for commits
_DC_PAGE = 100
_BUILD_STATES = frozenset({"SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED"})
_T = TypeVar("_T")


class BitbucketEndpoints(Endpoints):
    """Every Bitbucket operation, declared once; ``self`` in each is the in-thread :class:`BitbucketApi`.

    ``repo`` is ``"workspace/slug"`` (Cloud) or ``"PROJECT/slug"`` (Data Center).

    Raises (every operation):
        ConfigError: ``repo`` is malformed (before any request).
        ApiError: A request failed (the :mod:`jirabucket.errors` subclass follows the status).
    """

    PRODUCT: ClassVar[str] = "bitbucket"

    @operation(Retry.READ)
    def whoami(self: BitbucketApi) -> User:
        """Return the account the token acts as (Cloud ``/2.0/user``, Data Center ``whoami``).

        Cloud access tokens cannot call ``/2.0/user`` (no account scope).
        """
        if self._cloud:
            return bj.user_from_cloud(self._call("GET", "user"))
        answer = self._call("GET", "plugins/servlet/applinks/whoami")
        name = "" if answer is None else str(answer).strip()
        if not name or "/" in name:
            raise AuthError("Bitbucket does not know this token (whoami is anonymous)")
        try:
            data = self._call("GET", f"rest/api/1.0/users/{quote(name, safe='')}")
        except NotFound:  # a user without a profile to read: the name is all there is
            return User(name=name, display_name=name, email=None)
        return User(name=name, display_name=str(data.get("displayName") or name),
                    email=data.get("emailAddress") or None)

    @operation(Retry.READ)
    def repository(self: BitbucketApi, repo: str) -> dict[str, Any]:
        """Return the repository's JSON (NotFound: no such repository, or no access to it)."""
        return dict(self._call("GET", self._repo_path(repo)))

    @operation(Retry.READ)
    def verify_access(self: BitbucketApi, repo: str) -> None:
        """Check that the token can read the repository, with one cheap request.

        Every token kind may make it, unlike :meth:`whoami` (Cloud access tokens
        cannot call ``/2.0/user``). AuthError for a refused token; NotFound for
        no such repository, or none this token may see.
        """
        params = {"fields": "slug"} if self._cloud else None  # Cloud: a partial answer is enough
        self._call("GET", self._repo_path(repo), params=params)

    @operation(Retry.READ)
    def pull_request(self: BitbucketApi, repo: str, pr_id: int) -> PullRequest:
        """Return one pull request, with its source commit (NotFound for no such pull request)."""
        data = self._call("GET", self._repo_path(repo, f"pullrequests/{int(pr_id)}", f"pull-requests/{int(pr_id)}"))
        return bj.pr_from_cloud(repo, data) if self._cloud else bj.pr_from_datacenter(repo, data)

    @operation(Retry.READ)
    def pull_requests_page(
        self: BitbucketApi, repo: str, *, states: Sequence[str] = DEFAULT_PR_STATES,
        updated_since: datetime | str | None = None, cursor: Cursor = None,
    ) -> Page[PullRequest]:
        """Return one page of pull requests, newest update first, and the next cursor.

        Args:
            repo: The repository.
            states: The states wanted (``OPEN``, ``MERGED``, ``DECLINED``, ``SUPERSEDED``).
            updated_since: Only pull requests updated after this (ISO text or aware datetime);
                paging stops at the first older one.
            cursor: ``None`` for the first page, else what the previous page returned.

        Raises:
            ConfigError: A state is unknown.
        """
        wanted = [s.upper() for s in states]
        if not wanted or not set(wanted) <= PR_STATES:
            raise ConfigError(f"unknown pull request states {list(states)!r}")
        since = None if updated_since is None else bj.to_utc(updated_since)
        if self._cloud:
            page, cursor = self._cloud_pr_page(repo, wanted, since, cursor)
        else:
            page, cursor = self._dc_pr_page(repo, wanted, cursor)
        if since is not None:
            kept = [pr for pr in page if pr.updated > since]
            # Newest update first, one older pull request means the rest are older too. Cloud sorts by
            # -updated_on as asked; Data Center's NEWEST is documented only as "newer first".
            stop = len(kept) < len(page) and (self._cloud or _proves_update_order(page))
            page, cursor = kept, (None if stop else cursor)
        return page, cursor

    pull_requests = pull_requests_page.pages()

    @operation(Retry.READ)
    def pull_request_commits(self: BitbucketApi, repo: str, pr_id: int) -> list[Commit]:
        """Return the commits of a pull request (NotFound for no such pull request)."""
        path = self._repo_path(repo, f"pullrequests/{int(pr_id)}/commits",
                               f"pull-requests/{int(pr_id)}/commits")
        return self._all(path, bj.commit_from_cloud if self._cloud else bj.commit_from_datacenter)

    @operation(Retry.UNSAFE_WRITE, on=("repo", "pr_id"))
    def add_pr_comment(self: BitbucketApi, repo: str, pr_id: int, text: str) -> None:
        """Add a comment to a pull request."""
        path = self._repo_path(repo, f"pullrequests/{int(pr_id)}/comments",
                               f"pull-requests/{int(pr_id)}/comments")
        self._call("POST", path, json={"content": {"raw": text}} if self._cloud else {"text": text})

    @operation(Retry.READ)
    def commits_between_page(
        self: BitbucketApi, repo: str, *, include: str, exclude: str | None = None,
        cursor: Cursor = None,
    ) -> Page[Commit]:
        """Return one page of the commits in (``exclude``, ``include``], newest first, and the next cursor.

        Args:
            repo: The repository.
            include: The ref or hash the range ends at (inclusive): a tag, branch or commit.
            exclude: The ref or hash it starts after (exclusive); ``None`` for all history.
            cursor: ``None`` for the first page, else what the previous page returned.

        Raises:
            ApiError: A ref does not exist (NotFound, or PermanentError for Data Center's 400).
        """
        if self._cloud:
            params: dict[str, Any] = {"include": include, "pagelen": _CLOUD_COMMITS_PAGE}
            if exclude is not None:
                params["exclude"] = exclude
            if cursor is None:
                data = self._call("GET", self._repo_path(repo, cloud="commits"), params=params)
            else:
                data = self._call("GET", _with_params(str(cursor), params), absolute=True)
            page = [bj.commit_from_cloud(item) for item in data.get("values", [])]
            return page, (str(data["next"]) if data.get("next") else None)
        params = {"until": include, "start": int(cursor or 0), "limit": _DC_PAGE}
        if exclude is not None:
            params["since"] = exclude
        data = self._call("GET", self._repo_path(repo, datacenter="commits"), params=params)
        page = [bj.commit_from_datacenter(item) for item in data.get("values", [])]
        return page, (None if data.get("isLastPage", True) else int(data["nextPageStart"]))

    commits_between = commits_between_page.pages()

    @operation(Retry.IDEMPOTENT_WRITE, on=("repo", "commit"))
    def set_build_status(
        self: BitbucketApi, repo: str, commit: str, *, key: str, state: BuildState, name: str,
        url: str, description: str = "", ref: str | None = None,
    ) -> None:
        """Set the commit's build status ``key`` (the same key overwrites: safe to repeat).

        Args:
            repo: The repository.
            commit: The commit hash (a pull request's :attr:`~jirabucket.models.PullRequest.source_commit`).
            key: Identifies the status among the commit's (e.g. ``"jirabucket"``).
            state: ``SUCCESSFUL``, ``FAILED``, ``INPROGRESS`` or ``STOPPED``.
            name: The title shown.
            url: Where the status links to.
            description: A line of detail.
            ref: The branch it ran on; Cloud shows the status on that branch's pull request.

        Raises:
            ConfigError: ``commit`` is not a hash or ``state`` is unknown.
        """
        if state not in _BUILD_STATES:
            raise ConfigError(f"unknown build state {state!r} (expected one of {sorted(_BUILD_STATES)})")
        body: dict[str, Any] = {"key": key, "state": state, "name": name, "url": url,
                                "description": description}
        commit = bj.check_commit(commit)
        if self._cloud:
            if ref:
                body["refname"] = ref.removeprefix("refs/heads/")
            self._call("POST", self._repo_path(repo, f"commit/{commit}/statuses/build"), json=body)
            return
        body["state"] = "CANCELLED" if state == "STOPPED" else state
        if ref:
            body["ref"] = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
        # The repository-scoped endpoint (DC 7.4+), under "latest" as the 9.2 spec lists it.
        owner, slug = bj.parse_repo(repo)
        self._call("POST", f"rest/api/latest/projects/{owner}/repos/{slug}/commits/{commit}/builds", json=body)

    @operation(Retry.READ)
    def branches(self: BitbucketApi, repo: str) -> list[Branch]:
        """Return every branch of the repository."""
        path = self._repo_path(repo, "refs/branches", "branches")
        return self._all(path, bj.branch_from_cloud if self._cloud else bj.branch_from_datacenter)

    @operation(Retry.UNSAFE_WRITE)
    def create_branch(self: BitbucketApi, repo: str, name: str, start: str) -> Branch:
        """Create branch ``name`` at ``start`` (a commit hash; Data Center also takes a branch).

        PermanentError when it exists already.
        """
        path = self._repo_path(repo, "refs/branches", "branches")
        if self._cloud:
            return bj.branch_from_cloud(
                self._call("POST", path, json={"name": name, "target": {"hash": start}}))
        return bj.branch_from_datacenter(
            self._call("POST", path, json={"name": name, "startPoint": start}))


def _proves_update_order(page: Sequence[PullRequest]) -> bool:
    """Whether a page shows that the server lists by last update (so older ones end the paging).

    A page sorted by update but not by creation proves it. Sorted by creation and not by
    update, the listing is by creation: an old PR updated since may come pages later, so
    paging goes on. Sorted both ways the page cannot tell, and paging goes on too: a
    longer read is the price of never missing an update.
    """
    by_update = all(a.updated >= b.updated for a, b in itertools.pairwise(page))
    created = [pr.created for pr in page]
    if not by_update or None in created:
        return False
    return not all(a >= b for a, b in itertools.pairwise(c for c in created if c is not None))


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


class BitbucketApi(BitbucketEndpoints):
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
        if self._cloud:
            # The web host serves no API; Cloud() appends /2.0 itself.
            base = base.replace("://bitbucket.org", "://api.bitbucket.org")
        options = rest_options(token.auth(), base_url=base)
        if self._cloud:
            rest: object = cast(Any, Cloud)(base, **options)
        else:
            rest = cast(Any, Bitbucket)(base, cloud=False, **options)
        self._runner = DirectRunner(self, Transport(rest, timeout=timeout))

    def _call(self, method: str, path: str, **options: Any) -> Any:
        """Send one request and return its JSON."""
        return self._runner.transport.call(method, path, **options)

    def _repo_path(self, repo: str, cloud: str = "", datacenter: str = "") -> str:
        """Return the repository's API path, followed by the flavor's ``cloud`` or ``datacenter`` tail."""
        owner, slug = bj.parse_repo(repo)
        if self._cloud:
            return f"repositories/{owner}/{slug}" + (f"/{cloud}" if cloud else "")
        return f"rest/api/1.0/projects/{owner}/repos/{slug}" + (f"/{datacenter}" if datacenter else "")

    def _all(self, path: str, parse: Callable[[Mapping[str, Any]], _T]) -> list[_T]:
        """Return every item of a paged list (Cloud ``next``, Data Center ``nextPageStart``)."""
        items: list[_T] = []
        if self._cloud:
            data = self._call("GET", path, params={"pagelen": 100})
            items.extend(parse(v) for v in data.get("values", []))
            while data.get("next"):
                data = self._call("GET", str(data["next"]), absolute=True)
                items.extend(parse(v) for v in data.get("values", []))
            return items
        start: int | None = 0
        while start is not None:
            data = self._call("GET", path, params={"start": start, "limit": _DC_PAGE})
            items.extend(parse(v) for v in data.get("values", []))
            start = None if data.get("isLastPage", True) else int(data["nextPageStart"])
        return items

    def _cloud_pr_page(
        self, repo: str, states: list[str], since: datetime | None, cursor: Cursor
    ) -> Page[PullRequest]:
        params: dict[str, Any] = {"state": states, "sort": "-updated_on", "pagelen": _CLOUD_PAGE}
        if since is not None:
            params["q"] = f'updated_on > "{since.isoformat()}"'
        if cursor is None:
            data = self._call("GET", self._repo_path(repo, cloud="pullrequests"), params=params)
        else:
            data = self._call("GET", _with_params(str(cursor), params), absolute=True)
        page = [bj.pr_from_cloud(repo, item) for item in data.get("values", [])]
        return page, (str(data["next"]) if data.get("next") else None)

    def _dc_pr_page(self, repo: str, states: list[str], cursor: Cursor) -> Page[PullRequest]:
        state = states[0] if len(states) == 1 and states[0] != "SUPERSEDED" else "ALL"
        params = {"state": state, "order": "NEWEST", "start": int(cursor or 0), "limit": _DC_PAGE}
        data = self._call("GET", self._repo_path(repo, datacenter="pull-requests"), params=params)
        page = [bj.pr_from_datacenter(repo, item) for item in data.get("values", [])]
        after = None if data.get("isLastPage", True) else int(data["nextPageStart"])
        return [pr for pr in page if pr.state in states], after


class BitbucketClient(BitbucketEndpoints):
    """Bitbucket Cloud or Data Center, each call a task on the queue under ``bitbucket:<host>``.

    Args:
        url: The Bitbucket base URL (https; plain http only for loopback).
        token: A :class:`~jirabucket.tokens.BitbucketToken`.
        flavor: ``"cloud"`` or ``"datacenter"``; ``None`` infers it (bitbucket.org is Cloud).
        queue: A shared :class:`~jirabucket.queue.TaskQueue` (or any
            :class:`~jirabucket.clients.operations.TaskSink`); ``None`` makes a private one that :meth:`close` closes.
        timeout: Seconds per HTTP request.

    Raises:
        TypeError: ``token`` is not a BitbucketToken.
        ConfigError: The URL is unsafe or malformed.
    """

    def __init__(
        self, url: str, token: BitbucketToken, *, flavor: Flavor | None = None,
        queue: TaskSink | None = None, timeout: float = 30.0,
    ) -> None:
        require_token(token, BitbucketToken, who="BitbucketClient")
        self.api = BitbucketApi(url, token, flavor=flavor, timeout=timeout)
        self.flavor: Flavor = self.api.flavor
        self.key = self.queue_key(self.api.base_url)
        self._runner = QueuedRunner(self.api, queue=queue, key=self.key)

    @staticmethod
    def queue_key(url: str) -> str:
        """Return the queue key of a Bitbucket client for ``url``: ``"bitbucket:<host[:port]>"``."""
        return f"bitbucket:{host_key(url)}"
