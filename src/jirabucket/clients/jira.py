"""Jira (Cloud v3, Data Center v2): every operation declared once, run in-thread or queued.

:class:`JiraEndpoints` is the table; :class:`JiraApi` runs its operations in
the calling thread (inside queue tasks), :class:`JiraClient` runs each as a task
on the queue under ``jira:<host>``. See :mod:`jirabucket.clients.operations`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, ClassVar

from atlassian import Jira, JiraCloud

from jirabucket.clients import jira_json as jj
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
from jirabucket.errors import ConfigError, NotFound, PermanentError
from jirabucket.hosts import host_key, infer_jira_flavor
from jirabucket.models import Comment, Flavor, Issue, IssueLookup, IssueState, RemoteLink, Transition, User, Version
from jirabucket.tokens import JiraToken, require_token

__all__ = ["JiraApi", "JiraClient", "JiraEndpoints", "no_transition_error"]

_BATCH = 100
_FIELDS = ",".join(jj.ISSUE_FIELDS)
# The icon Jira shows beside the link, so readers see at a glance that it is a Bitbucket pull request.
_BITBUCKET_ICON = {"url16x16": "https://bitbucket.org/favicon.ico", "title": "Bitbucket pull request"}


class JiraEndpoints(Endpoints):
    """Every Jira operation, declared once; ``self`` in each is the in-thread :class:`JiraApi`.

    Raises (every operation):
        ConfigError: An issue key is malformed (before any request).
        ApiError: A request failed (the :mod:`jirabucket.errors` subclass follows the status).
    """

    PRODUCT: ClassVar[str] = "jira"

    @operation(Retry.READ)
    def myself(self: JiraApi) -> User:
        """Return the account the token acts as (AuthError for a bad token)."""
        return jj.user_from_json(self._call("GET", "myself"))

    @operation(Retry.READ)
    def get_issues(self: JiraApi, keys: Sequence[str]) -> IssueLookup:
        """Fetch issues by key in batches of 100; keys that do not exist are reported, not raised.

        Args:
            keys: Issue keys; malformed ones count as missing without a request.

        Returns:
            The issues found by key, and the asked-for keys that were not found.
        """
        wanted = list(dict.fromkeys(k for k in keys if jj.is_issue_key(k)))
        found: dict[str, Issue] = {}
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            found.update((issue.key, issue) for issue in self._fetch_issues(chunk))
        seen = {key.upper() for key in found}
        return IssueLookup(found, frozenset(k for k in keys if k.upper() not in seen))

    @operation(Retry.READ)
    def search_page(
        self: JiraApi, jql: str, *, cursor: Cursor = None, page_size: int = 100
    ) -> Page[Issue]:
        """Return one page of a JQL search and the cursor of the next page (``None`` after the last).

        Cloud uses ``search/jql`` with ``nextPageToken``; Data Center ``search`` with
        ``startAt``. Invalid JQL is a PermanentError (400).
        """
        if not self._cloud:
            start = int(cursor) if cursor is not None else 0
            return self._search_datacenter(jql, start, page_size, validate="strict")
        params: dict[str, Any] = {"jql": jql, "fields": _FIELDS, "maxResults": page_size}
        if cursor is not None:
            params["nextPageToken"] = str(cursor)
        data = self._call("GET", "search/jql", params=params)
        issues = [jj.issue_from_json(item) for item in data.get("issues", [])]
        token = data.get("nextPageToken")
        return issues, (None if data.get("isLast", token is None) or not token else str(token))

    search = search_page.pages()

    @operation(Retry.READ)
    def get_issue(self: JiraApi, key: str) -> Issue:
        """Return one issue with its type and fixVersions (NotFound when it does not exist)."""
        data = self._call("GET", f"issue/{jj.check_issue_key(key)}", params={"fields": _FIELDS})
        return jj.issue_from_json(data)

    @operation(Retry.READ)
    def get_issue_status(self: JiraApi, key: str) -> tuple[str, str]:
        """Return the issue's status name and its category (``new``, ``indeterminate`` or ``done``)."""
        data = self._call("GET", f"issue/{jj.check_issue_key(key)}", params={"fields": "status"})
        return jj.status_from_json(data)

    @operation(Retry.READ)
    def remote_links(self: JiraApi, key: str) -> list[RemoteLink]:
        """Return the issue's remote links (NotFound when the issue does not exist)."""
        data = self._call("GET", f"issue/{jj.check_issue_key(key)}/remotelink")
        return [jj.link_from_json(item) for item in data or []]

    @operation(Retry.IDEMPOTENT_WRITE)
    def upsert_remote_link(
        self: JiraApi, key: str, *, global_id: str, url: str, title: str, resolved: bool
    ) -> int:
        """Create or update the remote link with ``global_id``; return Jira's id of the link."""
        body = {
            "globalId": global_id,
            "application": {"type": "com.atlassian.bitbucket", "name": "Bitbucket"},
            "relationship": "mentioned in",
            "object": {"url": url, "title": title, "icon": _BITBUCKET_ICON,
                       "status": {"resolved": resolved}},
        }
        data = self._call("POST", f"issue/{jj.check_issue_key(key)}/remotelink", json=body)
        return int(data["id"])

    @operation(Retry.READ)
    def comments(self: JiraApi, key: str) -> list[Comment]:
        """Return all comments of the issue, oldest first, as plain text."""
        path = f"issue/{jj.check_issue_key(key)}/comment"
        found: list[Comment] = []
        while True:
            data = self._call("GET", path, params={"startAt": len(found), "maxResults": 100})
            page = [jj.comment_from_json(item) for item in data.get("comments", [])]
            found.extend(page)
            if not page or len(found) >= int(data.get("total", 0)):
                return found

    @operation(Retry.UNSAFE_WRITE)
    def add_comment(self: JiraApi, key: str, text: str) -> Comment:
        """Add a comment (ADF on Cloud, a string on Data Center)."""
        body = jj.text_to_adf(text) if self._cloud else text
        data = self._call("POST", f"issue/{jj.check_issue_key(key)}/comment", json={"body": body})
        return jj.comment_from_json(data)

    @operation(Retry.READ)
    def transitions(self: JiraApi, key: str) -> list[Transition]:
        """Return the transitions available on the issue now, with the fields each requires."""
        path = f"issue/{jj.check_issue_key(key)}/transitions"
        # With their fields, so a screen's required ones (typically resolution) are known.
        data = self._call("GET", path, params={"expand": "transitions.fields"})
        return [jj.transition_from_json(item) for item in data.get("transitions", [])]

    @operation(Retry.IDEMPOTENT_WRITE)
    def transition(self: JiraApi, key: str, name_or_status: str) -> bool:
        """Move the issue by a transition's name or its target status (case-insensitive).

        Idempotent: it reads the status first. Returns ``True`` if it moved, ``False``
        if it already was in that status; PermanentError when no available
        transition has that name or target status.
        """
        current, options = self.status_and_transitions(key)
        if current.casefold() == name_or_status.casefold():
            return False
        match = Transition.pick(options, name_or_status)
        if match is None:
            raise no_transition_error(key, current, name_or_status, options)
        self.apply_transition(key, match.id)
        return True

    @operation(Retry.READ)
    def issue_state(self: JiraApi, key: str) -> IssueState:
        """Return the issue's status, its category and the transitions available from it, with their fields.

        One request (``expand=transitions.fields``); a server that drops the expansion
        (a third-party Jira Data Center mock does) costs a second, ``…/transitions``.
        """
        params = {"fields": "status", "expand": "transitions.fields"}
        data = self._call("GET", f"issue/{jj.check_issue_key(key)}", params=params)
        status, category = jj.status_from_json(data)
        if "transitions" in data:
            options = [jj.transition_from_json(item) for item in data["transitions"]]
        else:
            options = self.transitions(key)
        return IssueState(status, category, tuple(options))

    @operation(Retry.READ)
    def status_and_transitions(self: JiraApi, key: str) -> tuple[str, list[Transition]]:
        """Return the issue's status and the transitions available from it (see :meth:`issue_state`)."""
        state = self.issue_state(key)
        return state.status, list(state.transitions)

    @operation(Retry.UNSAFE_WRITE)
    def apply_transition(
        self: JiraApi, key: str, transition_id: str, *, fields: Mapping[str, Any] | None = None
    ) -> None:
        """Run the transition with ``transition_id`` on the issue.

        Args:
            key: The issue.
            transition_id: The transition's id.
            fields: Values for its screen's fields, e.g. ``{"resolution": {"name": "Done"}}``.

        Raises:
            PermanentError: 400 when it is not available now, or a required field is missing
                (Jira's message is in the error's body).
        """
        body: dict[str, Any] = {"transition": {"id": transition_id}}
        if fields:
            body["fields"] = dict(fields)
        self._call("POST", f"issue/{jj.check_issue_key(key)}/transitions", json=body)

    @operation(Retry.IDEMPOTENT_WRITE)
    def delete_comment(self: JiraApi, key: str, comment_id: str) -> bool:
        """Delete a comment; ``False`` when it (or its issue) was already gone, so a repeat is harmless."""
        path = f"issue/{jj.check_issue_key(key)}/comment/{jj.check_number(comment_id, what='comment')}"
        try:
            self._call("DELETE", path)
        except NotFound:
            return False
        return True

    @operation(Retry.READ)
    def project_versions(self: JiraApi, project: str) -> list[Version]:
        """Return every version of the project (NotFound for no such project)."""
        data = self._call("GET", f"project/{jj.check_project_key(project)}/versions")
        return [jj.version_from_json(item, project=project) for item in data or []]

    @operation(Retry.UNSAFE_WRITE)
    def create_version(
        self: JiraApi, project: str, name: str, *, released: bool = False,
        release_date: date | str | None = None,
    ) -> Version:
        """Create version ``name`` in the project (a date or ISO text as ``release_date``).

        Jira wants the project's numeric id, so this reads the project first.
        PermanentError (400) when the project has a version of that name.
        """
        found = self._call("GET", f"project/{jj.check_project_key(project)}")
        body: dict[str, Any] = {"name": name, "projectId": int(found["id"]), "released": released}
        if release_date is not None:
            body["releaseDate"] = _iso_date(release_date)
        return jj.version_from_json(self._call("POST", "version", json=body), project=project)

    @operation(Retry.IDEMPOTENT_WRITE)
    def update_version(
        self: JiraApi, version_id: str, *, released: bool, release_date: date | str | None = None
    ) -> Version:
        """Mark the version released or not; set its release date when one is given."""
        body: dict[str, Any] = {"released": released}
        if release_date is not None:
            body["releaseDate"] = _iso_date(release_date)
        path = f"version/{jj.check_number(version_id, what='version')}"
        return jj.version_from_json(self._call("PUT", path, json=body))

    @operation(Retry.IDEMPOTENT_WRITE)
    def add_fix_version(self: JiraApi, key: str, version_name: str) -> None:
        """Add a fixVersion to the issue, keeping its others (adding one it has changes nothing)."""
        body = {"update": {"fixVersions": [{"add": {"name": version_name}}]}}
        self._call("PUT", f"issue/{jj.check_issue_key(key)}", json=body)


class JiraApi(JiraEndpoints):
    """Jira's REST API, blocking calls in the calling thread, no retries.

    Args:
        url: The Jira base URL (https; plain http only for loopback).
        token: The Jira token (Basic with an email on Cloud, Bearer on Data Center).
        flavor: ``"cloud"`` or ``"datacenter"``; inferred from the host when ``None``.
        timeout: Seconds per request before giving up.

    Raises:
        TypeError: ``token`` is not a :class:`JiraToken`.
        ConfigError: The URL is unsafe or malformed.
    """

    def __init__(
        self, url: str, token: JiraToken, *, flavor: Flavor | None = None, timeout: float = 30.0
    ) -> None:
        require_token(token, JiraToken, who="JiraApi")
        base = check_base_url(url, what="Jira")
        self.flavor: Flavor = flavor or infer_jira_flavor(base)
        self._cloud = self.flavor == "cloud"
        self._root = "rest/api/3" if self._cloud else "rest/api/2"
        options = rest_options(token.auth(), base_url=base)
        rest = JiraCloud(base, api_version=3, **options) if self._cloud else Jira(base, **options)
        self._runner = DirectRunner(self, Transport(rest, timeout=timeout))

    def _call(self, method: str, path: str, **options: Any) -> Any:
        """Send one request to ``path`` under the API root and return its JSON."""
        return self._runner.transport.call(method, f"{self._root}/{path}", **options)

    def _fetch_issues(self, keys: list[str]) -> list[Issue]:
        """Return the issues among up to 100 well-formed ``keys`` (missing ones are left out)."""
        if self._cloud:
            body = {"issueIdsOrKeys": keys, "fields": list(jj.ISSUE_FIELDS)}
            data = self._call("POST", "issue/bulkfetch", json=body)
            return [jj.issue_from_json(item) for item in data.get("issues", [])]
        # validateQuery=warn: a key that does not exist is a warning, not a 400 for the batch.
        jql = "key in ({})".format(",".join(f'"{key}"' for key in keys))
        issues: list[Issue] = []
        cursor: int | None = 0
        while cursor is not None:
            page, cursor = self._search_datacenter(jql, cursor, _BATCH, validate="warn")
            issues.extend(page)
        return issues

    def _search_datacenter(
        self, jql: str, start: int, size: int, *, validate: str
    ) -> tuple[list[Issue], int | None]:
        params = {"jql": jql, "startAt": start, "maxResults": size, "fields": _FIELDS,
                  "validateQuery": validate}
        data = self._call("GET", "search", params=params)
        issues = [jj.issue_from_json(item) for item in data.get("issues", [])]
        after = int(data.get("startAt", start)) + len(issues)
        more = bool(issues) and after < int(data.get("total", 0))
        return issues, (after if more else None)


class JiraClient(JiraEndpoints):
    """Jira Cloud or Data Center, each call a task on the queue under the key ``jira:<host>``.

    Reads return :mod:`jirabucket.models` values; failures raise the
    :mod:`jirabucket.errors` tree after the queue's retries.

    Args:
        url: The Jira base URL (https; plain http only for loopback).
        token: A :class:`~jirabucket.tokens.JiraToken`.
        flavor: ``"cloud"`` or ``"datacenter"``; ``None`` infers it (``*.atlassian.net`` is Cloud).
        queue: A shared :class:`~jirabucket.queue.TaskQueue` (or any
            :class:`~jirabucket.clients.operations.TaskSink`); ``None`` makes a private one that :meth:`close` closes.
        timeout: Seconds per HTTP request.

    Raises:
        TypeError: ``token`` is not a JiraToken.
        ConfigError: The URL is unsafe or malformed.
    """

    def __init__(
        self, url: str, token: JiraToken, *, flavor: Flavor | None = None,
        queue: TaskSink | None = None, timeout: float = 30.0,
    ) -> None:
        require_token(token, JiraToken, who="JiraClient")
        self.api = JiraApi(url, token, flavor=flavor, timeout=timeout)
        self.flavor: Flavor = self.api.flavor
        self.key = self.queue_key(self.api.base_url)
        self._runner = QueuedRunner(self.api, queue=queue, key=self.key)

    @staticmethod
    def queue_key(url: str) -> str:
        """Return the queue key of a Jira client for ``url``: ``"jira:<host[:port]>"``."""
        return f"jira:{host_key(url)}"


def _iso_date(value: date | str) -> str:
    """Return a release date as Jira takes it (``YYYY-MM-DD``) from a date or ISO text.

    Raises:
        ConfigError: The text is not an ISO date.
    """
    try:
        return date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise ConfigError(f"{value!r} is not a date (expected YYYY-MM-DD)") from None


def no_transition_error(key: str, current: str, wanted: str, options: Sequence[Transition]) -> PermanentError:
    """Return the error for a transition that is not available from the current status."""
    names = ", ".join(f"{t.name} -> {t.to_status}" for t in options) or "none"
    return PermanentError(
        f"{key} is in {current!r}: no transition named or leading to {wanted!r} (available: {names})"
    )
