"""JiraApi: synchronous Jira calls (Cloud v3, Data Center v2) in the calling thread, no queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atlassian import Jira, JiraCloud

from jirabucket.clients import _jira_json as js
from jirabucket.clients._http import ApiBase, Transport, check_base_url, rest_options
from jirabucket.errors import PermanentError
from jirabucket.hosts import infer_jira_flavor
from jirabucket.models import Comment, Flavor, Issue, IssueLookup, RemoteLink, Transition, User
from jirabucket.tokens import JiraToken, require_token

__all__ = ["JiraApi"]

Cursor = str | int | None
_BATCH = 100
_FIELDS = ",".join(js.ISSUE_FIELDS)


# The icon Jira shows beside the link, so readers see at a glance that it is a Bitbucket pull request.
_BITBUCKET_ICON = {"url16x16": "https://bitbucket.org/favicon.ico", "title": "Bitbucket pull request"}




class JiraApi(ApiBase):
    """Jira's REST API, one blocking HTTP request (or a few) per call, no retries.

    The sync engine calls it inside queue tasks; :class:`~jirabucket.clients.JiraClient`
    wraps each method in a queued operation.

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
        options = rest_options(token.auth())
        rest = JiraCloud(base, api_version=3, **options) if self._cloud else Jira(base, **options)
        self._http = Transport(rest, timeout=timeout)

    def _call(self, method: str, path: str, **options: Any) -> Any:
        return self._http.call(method, f"{self._root}/{path}", **options)

    def myself(self) -> User:
        """Return the account the token acts as.

        Raises:
            ApiError: The request failed (AuthError for a bad token).
        """
        return js.user_from_json(self._call("GET", "myself"))

    def get_issues(self, keys: Sequence[str]) -> IssueLookup:
        """Fetch issues by key in batches of 100; keys that do not exist are reported, not raised.

        Args:
            keys: Issue keys; malformed ones count as missing without a request.

        Returns:
            The issues found by key, and the asked-for keys that were not found.

        Raises:
            ApiError: A batch request failed.
        """
        wanted = list(dict.fromkeys(k for k in keys if js.is_issue_key(k)))
        found: dict[str, Issue] = {}
        for start in range(0, len(wanted), _BATCH):
            chunk = wanted[start : start + _BATCH]
            issues = self._bulk_cloud(chunk) if self._cloud else self._bulk_datacenter(chunk)
            found.update((issue.key, issue) for issue in issues)
        seen = {key.upper() for key in found}
        return IssueLookup(found, frozenset(k for k in keys if k.upper() not in seen))

    def _bulk_cloud(self, keys: list[str]) -> list[Issue]:
        body = {"issueIdsOrKeys": keys, "fields": list(js.ISSUE_FIELDS)}
        data = self._call("POST", "issue/bulkfetch", json=body)
        return [js.issue_from_json(item) for item in data.get("issues", [])]

    def _bulk_datacenter(self, keys: list[str]) -> list[Issue]:
        # validateQuery=warn: a key that does not exist is a warning, not a 400 for the batch.
        jql = "key in ({})".format(",".join(f'"{key}"' for key in keys))
        issues: list[Issue] = []
        cursor: int | None = 0
        while cursor is not None:
            page, cursor = self._search_datacenter(jql, cursor, _BATCH, validate="warn")
            issues.extend(page)
        return issues

    def search_page(
        self, jql: str, *, cursor: Cursor = None, page_size: int = 100
    ) -> tuple[list[Issue], Cursor]:
        """Return one page of a JQL search and the cursor of the next page.

        Cloud uses ``search/jql`` with ``nextPageToken``; Data Center ``search`` with ``startAt``.

        Args:
            jql: The query.
            cursor: ``None`` for the first page, else the cursor this method returned.
            page_size: Issues per page (the server may cap it).

        Returns:
            The page's issues and the next cursor (``None`` after the last page).

        Raises:
            ApiError: The request failed (PermanentError for invalid JQL).
        """
        if not self._cloud:
            start = int(cursor) if cursor is not None else 0
            return self._search_datacenter(jql, start, page_size, validate="strict")
        params: dict[str, Any] = {"jql": jql, "fields": _FIELDS, "maxResults": page_size}
        if cursor is not None:
            params["nextPageToken"] = str(cursor)
        data = self._call("GET", "search/jql", params=params)
        issues = [js.issue_from_json(item) for item in data.get("issues", [])]
        token = data.get("nextPageToken")
        return issues, (None if data.get("isLast", token is None) or not token else str(token))

    def _search_datacenter(
        self, jql: str, start: int, size: int, *, validate: str
    ) -> tuple[list[Issue], int | None]:
        params = {"jql": jql, "startAt": start, "maxResults": size, "fields": _FIELDS,
                  "validateQuery": validate}
        data = self._call("GET", "search", params=params)
        issues = [js.issue_from_json(item) for item in data.get("issues", [])]
        after = int(data.get("startAt", start)) + len(issues)
        more = bool(issues) and after < int(data.get("total", 0))
        return issues, (after if more else None)

    def remote_links(self, key: str) -> list[RemoteLink]:
        """Return the issue's remote links.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: The request failed (NotFound when the issue does not exist).
        """
        data = self._call("GET", f"issue/{js.check_issue_key(key)}/remotelink")
        return [js.link_from_json(item) for item in data or []]

    def upsert_remote_link(
        self, key: str, *, global_id: str, url: str, title: str, resolved: bool
    ) -> int:
        """Create or update the remote link with ``global_id`` (safe to repeat).

        Returns:
            Jira's id of the link.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: The request failed.
        """
        body = {
            "globalId": global_id,
            "application": {"type": "com.atlassian.bitbucket", "name": "Bitbucket"},
            "relationship": "mentioned in",
            "object": {"url": url, "title": title, "icon": _BITBUCKET_ICON, "status": {"resolved": resolved}},
        }
        data = self._call("POST", f"issue/{js.check_issue_key(key)}/remotelink", json=body)
        return int(data["id"])

    def comments(self, key: str) -> list[Comment]:
        """Return all comments of the issue, oldest first, as plain text.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: A request failed.
        """
        path = f"issue/{js.check_issue_key(key)}/comment"
        found: list[Comment] = []
        while True:
            params = {"startAt": len(found), "maxResults": 100}
            data = self._call("GET", path, params=params)
            page = [js.comment_from_json(item) for item in data.get("comments", [])]
            found.extend(page)
            if not page or len(found) >= int(data.get("total", 0)):
                return found

    def add_comment(self, key: str, text: str) -> Comment:
        """Add a comment (ADF on Cloud, a string on Data Center). Not safe to repeat.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: The request failed.
        """
        body = js.text_to_adf(text) if self._cloud else text
        data = self._call("POST", f"issue/{js.check_issue_key(key)}/comment", json={"body": body})
        return js.comment_from_json(data)

    def transitions(self, key: str) -> list[Transition]:
        """Return the transitions available on the issue now.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: The request failed.
        """
        data = self._call("GET", f"issue/{js.check_issue_key(key)}/transitions")
        return [js.transition_from_json(item) for item in data.get("transitions", [])]

    def transition(self, key: str, name_or_status: str) -> bool:
        """Move the issue by a transition's name or its target status (case-insensitive).

        Returns:
            ``True`` if it moved, ``False`` if it already was in that status.

        Raises:
            ConfigError: ``key`` is not an issue key.
            PermanentError: No available transition has that name or target status.
            ApiError: A request failed.
        """
        current, options = self.status_and_transitions(key)
        if current.casefold() == name_or_status.casefold():
            return False
        match = Transition.pick(options, name_or_status)
        if match is None:
            raise no_transition_error(key, current, name_or_status, options)
        self.apply_transition(key, match.id)
        return True

    def status_and_transitions(self, key: str) -> tuple[str, list[Transition]]:
        """Return the issue's status and the transitions available from it, in one request.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: The request failed.
        """
        params = {"fields": "status", "expand": "transitions"}
        data = self._call("GET", f"issue/{js.check_issue_key(key)}", params=params)
        current = str(data.get("fields", {}).get("status", {}).get("name", ""))
        return current, [js.transition_from_json(item) for item in data.get("transitions", [])]

    def apply_transition(self, key: str, transition_id: str) -> None:
        """Run the transition with ``transition_id`` on the issue.

        Raises:
            ConfigError: ``key`` is not an issue key.
            ApiError: The request failed (400 when it is not available now).
        """
        body = {"transition": {"id": transition_id}}
        self._call("POST", f"issue/{js.check_issue_key(key)}/transitions", json=body)


def no_transition_error(key: str, current: str, wanted: str, options: Sequence[Transition]) -> PermanentError:
    """Return the error for a transition that is not available from the current status."""
    names = ", ".join(f"{t.name} -> {t.to_status}" for t in options) or "none"
    return PermanentError(
        f"{key} is in {current!r}: no transition named or leading to {wanted!r} (available: {names})"
    )
