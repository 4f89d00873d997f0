"""The Jira Cloud simulator (``/rest/api/3`` and ``/rest/api/2``)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from jirabucket.testing.clock import Clock
from jirabucket.testing.http.messages import BadRequest, Request, Response, json_response
from jirabucket.testing.http.server import Credentials
from jirabucket.testing.jira.render import parse_fields
from jirabucket.testing.jira.simulator import SERVER_TIME, JiraSimulatorBase
from jirabucket.testing.jira.workflow import Workflow

__all__ = ["JiraCloudSimulator"]

_SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _token_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        return int(text.removeprefix("offset:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("The provided next page token is invalid or expired.") from None


class JiraCloudSimulator(JiraSimulatorBase):
    """Jira Cloud under ``/rest/api/3`` and ``/rest/api/2``.

    Auth is Basic ``email:token``; a Bearer header answers 403 as real Cloud does.
    Search is ``search/jql`` (``nextPageToken`` paging); the removed ``search``
    answers 410 Gone.

    Args:
        email: The account email of the Basic credentials.
        token: The API token of the Basic credentials.
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of 429 windows (see :mod:`jirabucket.testing.clock`).
        workflow: The workflow every issue follows; :meth:`Workflow.default` when ``None``.
    """

    _prefixes = (r"/rest/api/(?P<version>[23])",)

    def __init__(
        self,
        *,
        email: str = "bot@example.com",
        token: str = "jira-cloud-token",  # noqa: S107 - documented test credential
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
        workflow: Workflow | None = None,
    ) -> None:
        super().__init__(port=port, seed=seed, clock=clock, workflow=workflow)
        self.email = email
        self.token = token
        route = self._router.add
        route("GET", "/search/jql", self._search_jql)
        route("POST", "/search/jql", self._search_jql)
        route("POST", "/issue/bulkfetch", self._bulkfetch)
        gone = lambda _r: self._error(410, _SEARCH_GONE, {})  # noqa: E731
        route("GET", "/search", gone)
        route("POST", "/search", gone)

    def _credentials_ok(self, credentials: Credentials) -> bool:
        return credentials.scheme == "basic" and (credentials.user, credentials.secret) == (
            self.email,
            self.token,
        )

    def _auth_failure(self, credentials: Credentials | None) -> Response:
        if credentials is not None and credentials.scheme == "bearer":
            return self._error(403, "Failed to parse Connect Session Auth Token", {})
        return self._error(401, "Client must be authenticated to access this resource.", {})

    def _user(self, request: Request) -> dict[str, Any]:
        api = f"{self._base_url}/rest/api/{request.params.get('version', '3')}"
        return {
            "self": f"{api}/user?accountId=5b10ac8d82e05b22cc7d4ef5",
            "accountId": "5b10ac8d82e05b22cc7d4ef5",
            "accountType": "atlassian",
            "emailAddress": self.email,
            "displayName": "Sync Bot",
            "active": True,
            "timeZone": "Etc/UTC",
        }

    def _server_info(self, request: Request) -> dict[str, Any]:
        return {
            "baseUrl": self._base_url,
            "version": "1001.0.0-SNAPSHOT",
            "versionNumbers": [1001, 0, 0],
            "deploymentType": "Cloud",
            "buildNumber": 100282,
            "buildDate": "2026-01-01T00:00:00.000+0000",
            "serverTime": SERVER_TIME,
            "scmInfo": "9d700605f271b9e38f3e73c4116a686dae8d11d7",
            "serverTitle": "Jira",
        }

    def _search_jql(self, request: Request) -> Response:
        if request.method == "POST":
            body = request.json_object()
            jql = str(body.get("jql") or "")
            token = body.get("nextPageToken")
            limit = int(body.get("maxResults") or 50)
            field_list = body.get("fields")
            fields = parse_fields(field_list if isinstance(field_list, list) else None)
        else:
            jql = request.arg("jql") or ""
            token = request.arg("nextPageToken")
            limit = request.int_arg("maxResults", 50)
            fields = parse_fields(request.query.get("fields"))
        if not jql.strip() or jql.strip().upper().startswith("ORDER BY"):
            raise BadRequest(
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
            )
        found, _ = self._search(jql)
        offset = _token_offset(str(token) if token else None)
        limit = min(max(1, limit), 100)
        page = found[offset : offset + limit]
        view = self._view(request)
        issues = [view.issue(i, fields) if fields else {"id": i.id} for i in page]
        result: dict[str, Any] = {"issues": issues, "isLast": offset + limit >= len(found)}
        if not result["isLast"]:
            result["nextPageToken"] = _page_token(offset + limit)
        return json_response(200, result)

    def _bulkfetch(self, request: Request) -> Response:
        if request.params.get("version") != "3":
            raise BadRequest("No resource at this path.", status=404)
        body = request.json_object()
        wanted = body.get("issueIdsOrKeys")
        if not isinstance(wanted, list) or not wanted:
            raise BadRequest("issueIdsOrKeys must not be empty.")
        if len(wanted) > 100:
            raise BadRequest("The number of issue IDs or keys must not exceed 100.")
        field_list = body.get("fields")
        fields = parse_fields(field_list if isinstance(field_list, list) else None)
        view = self._view(request)
        issues, errors = [], []
        for ref in wanted:
            try:
                issues.append(view.issue(self._state.get(str(ref)), fields))
            except BadRequest as exc:
                errors.append({"id": str(ref), "errorMessage": exc.message})
        return json_response(200, {"issues": issues, "issueErrors": errors})
