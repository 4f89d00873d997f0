"""The Jira Data Center simulator (``/rest/api/2`` and ``/rest/api/latest``)."""

from __future__ import annotations

from typing import Any

from jirabucket.testing.clock import Clock
from jirabucket.testing.http.messages import Request, Response, json_response
from jirabucket.testing.http.server import Credentials
from jirabucket.testing.jira.render import parse_fields
from jirabucket.testing.jira.simulator import SERVER_TIME, JiraSimulatorBase
from jirabucket.testing.jira.workflow import Workflow

__all__ = ["JiraDataCenterSimulator"]


class JiraDataCenterSimulator(JiraSimulatorBase):
    """Jira Data Center under ``/rest/api/2`` and ``/rest/api/latest``.

    Auth is a Bearer personal access token. Search is ``search`` with
    ``startAt`` paging; ``validateQuery=warn`` turns unknown keys into warnings.

    Args:
        token: The personal access token.
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of 429 windows (see :mod:`jirabucket.testing.clock`).
        workflow: The workflow every issue follows; :meth:`Workflow.default` when ``None``.
    """

    _prefixes = (r"/rest/api/(?P<version>2|latest)",)

    def __init__(
        self,
        *,
        token: str = "jira-dc-token",  # noqa: S107 - documented test credential
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
        workflow: Workflow | None = None,
    ) -> None:
        super().__init__(port=port, seed=seed, clock=clock, workflow=workflow)
        self.token = token
        self.username = "bot"
        self._router.add("GET", "/search", self._dc_search)
        self._router.add("POST", "/search", self._dc_search)

    def _credentials_ok(self, credentials: Credentials) -> bool:
        return credentials.scheme == "bearer" and credentials.secret == self.token

    def _user(self, request: Request) -> dict[str, Any]:
        return {
            "self": f"{self._base_url}/rest/api/2/user?username={self.username}",
            "key": "JIRAUSER10000",
            "name": self.username,
            "emailAddress": "bot@example.com",
            "displayName": "Sync Bot",
            "active": True,
            "deleted": False,
            "timeZone": "Etc/UTC",
            "locale": "en_US",
        }

    def _server_info(self, request: Request) -> dict[str, Any]:
        return {
            "baseUrl": self._base_url,
            "version": "9.12.0",
            "versionNumbers": [9, 12, 0],
            "deploymentType": "Server",
            "buildNumber": 9120000,
            "buildDate": "2026-01-01T00:00:00.000+0000",
            "serverTime": SERVER_TIME,
            "scmInfo": "0123456789abcdef",
            "serverTitle": "Jira",
        }

    def _dc_search(self, request: Request) -> Response:
        if request.method == "POST":
            body = request.json_object()
            jql = str(body.get("jql") or "")
            start, limit = int(body.get("startAt") or 0), int(body.get("maxResults") or 50)
            field_list = body.get("fields")
            fields = parse_fields(field_list if isinstance(field_list, list) else None)
            validate = str(body.get("validateQuery", "strict"))
        else:
            jql = request.arg("jql") or ""
            start, limit = request.int_arg("startAt", 0), request.int_arg("maxResults", 50)
            fields = parse_fields(request.query.get("fields"))
            validate = request.arg("validateQuery") or "strict"
        strict = validate.lower() not in {"warn", "none", "false"}
        found, warnings = self._search(jql, strict=strict)
        start, limit = max(0, start), min(max(0, limit), 1000)
        view = self._view(request)
        result: dict[str, Any] = {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": limit,
            "total": len(found),
            "issues": [view.issue(i, fields) for i in found[start : start + limit]],
        }
        if warnings and validate.lower() == "warn":
            result["warningMessages"] = warnings
        return json_response(200, result)
