"""What the Jira Cloud and Data Center simulators share: state API and issue resources."""

from __future__ import annotations

from abc import abstractmethod
from datetime import UTC, datetime, timedelta
from typing import Any

from jirabucket.testing.http.messages import BadRequest, Request, Response, json_response
from jirabucket.testing.http.server import SimulatorBase
from jirabucket.testing.jira.jql import parse_jql
from jirabucket.testing.jira.render import JiraView, parse_fields
from jirabucket.testing.jira.state import IssueSnapshot, JiraState, StoredIssue, adf_text

__all__ = ["SERVER_TIME", "JiraSimulatorBase"]

SERVER_TIME = "2026-01-05T09:00:00.000+0000"
"""The ``serverTime`` both flavors report."""

_ISSUE = r"/issue/(?P<key>[^/]+)"


class JiraSimulatorBase(SimulatorBase):
    """State and the issue resources both Jira flavors serve.

    Args:
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
    """

    def __init__(self, *, port: int = 0, seed: int = 0) -> None:
        super().__init__(port=port, seed=seed)
        self._state = JiraState()
        route = self._router.add
        route("GET", "/myself", lambda r: json_response(200, self._user(r)))
        route("GET", "/serverInfo", lambda r: json_response(200, self._server_info(r)))
        route("GET", _ISSUE, self._get_issue)
        route("GET", _ISSUE + "/remotelink", self._get_links)
        route("POST", _ISSUE + "/remotelink", self._post_link)
        route("GET", _ISSUE + "/comment", self._get_comments)
        route("POST", _ISSUE + "/comment", self._post_comment)
        route("GET", _ISSUE + "/transitions", self._get_transitions)
        route("POST", _ISSUE + "/transitions", self._post_transition)

    # -- product hooks -------------------------------------------------------

    @abstractmethod
    def _user(self, request: Request) -> dict[str, Any]:
        """Return the authenticated user's JSON."""

    @abstractmethod
    def _server_info(self, request: Request) -> dict[str, Any]:
        """Return the serverInfo JSON."""

    def _rate_limit_headers(self, retry_after: int | None) -> list[tuple[str, str]]:
        reset = datetime.now(UTC) + timedelta(seconds=retry_after or 1)
        headers = [
            ("X-RateLimit-Limit", "100"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", reset.isoformat(timespec="seconds").replace("+00:00", "Z")),
            ("RateLimit-Reason", "jira-burst-based"),
        ]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return headers

    def _error(self, status: int, message: str, field_errors: dict[str, str]) -> Response:
        messages = [] if field_errors and status == 400 else [message]
        return json_response(status, {"errorMessages": messages, "errors": field_errors})

    # -- state API -----------------------------------------------------------

    def add_issue(self, key: str, *, summary: str = "Issue", status: str = "To Do", description: str = "") -> None:
        """Create an issue (or replace one with the same key); its project is the key's prefix.

        Args:
            key: Issue key, e.g. ``ABC-12``.
            summary: Summary line.
            status: One of ``To Do``, ``In Progress``, ``In Review``, ``Done``.
            description: Plain-text description.

        Raises:
            ValueError: Unknown status or malformed key.
        """
        with self._lock:
            self._state.add(key.upper(), summary=summary, status=status, description=description)

    def delete_issue(self, key: str) -> None:
        """Delete an issue.

        Raises:
            KeyError: No such issue.
        """
        with self._lock:
            del self._state.issues[key.upper()]

    def issue(self, key: str) -> IssueSnapshot:
        """Return a frozen snapshot of an issue: status, links, comments, transitions.

        Raises:
            KeyError: No such issue.
        """
        with self._lock:
            return self._state.snapshot(key.upper())

    def issue_keys(self) -> list[str]:
        """Return every issue key, ordered by project and number."""
        with self._lock:
            return self._state.sorted_keys()

    # -- helpers for subclasses ------------------------------------------------

    def _view(self, request: Request) -> JiraView:
        version = request.params.get("version", "2")
        return JiraView(self.url, version, self._user(request))

    def _search(self, jql: str, *, strict: bool = True) -> tuple[list[StoredIssue], list[str]]:
        """Run a JQL query; return matches in key order and warnings (when not strict).

        Raises:
            BadRequest: Unsupported JQL, or (strict) a key or project that does not exist.
        """
        query = parse_jql(jql)
        problems = [
            f"An issue with key '{key}' does not exist for field 'key'."
            for key in sorted(query.keys or ())
            if key not in self._state.issues
        ]
        known_projects = {issue.project for issue in self._state.issues.values()}
        problems += [
            f"The value '{project}' does not exist for the field 'project'."
            for project in sorted(query.projects or ())
            if project not in known_projects
        ]
        if problems and strict:
            raise BadRequest(problems[0])
        found = [
            self._state.issues[key]
            for key in self._state.sorted_keys()
            if (query.keys is None or key in query.keys)
            and (query.projects is None or self._state.issues[key].project in query.projects)
        ]
        if query.descending:
            found.reverse()
        return found, problems

    # -- handlers --------------------------------------------------------------

    def _get_issue(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        fields = parse_fields(request.query.get("fields"))
        view = self._view(request)
        body = view.issue(issue, fields)
        if "transitions" in ",".join(request.query.get("expand", [])).split(","):
            body["transitions"] = view.transitions(issue)["transitions"]
        return json_response(200, body)

    def _get_links(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        return json_response(200, issue.remote_links)

    def _post_link(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        link, created = self._state.upsert_link(issue, request.json_object())
        link["self"] = f"{self._view(request).api}/issue/{issue.key}/remotelink/{link['id']}"
        return json_response(201 if created else 200, {"id": link["id"], "self": link["self"]})

    def _get_comments(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        start = max(0, request.int_arg("startAt", 0))
        limit = min(max(1, request.int_arg("maxResults", 50)), 100)
        view = self._view(request)
        page = issue.comments[start : start + limit]
        return json_response(
            200,
            {
                "startAt": start,
                "maxResults": limit,
                "total": len(issue.comments),
                "comments": [view.comment(issue, c) for c in page],
            },
        )

    def _post_comment(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        view = self._view(request)
        body = request.json_object().get("body")
        if view.adf:
            if not (isinstance(body, dict) and body.get("type") == "doc"):
                raise BadRequest(
                    "Comment body is not valid!",
                    field_errors={"comment": "Operation value must be an Atlassian Document."},
                )
            text, adf = adf_text(body), body
        else:
            if not isinstance(body, str) or not body.strip():
                raise BadRequest(
                    "Comment body can not be empty!", field_errors={"comment": "Comment body can not be empty!"}
                )
            text, adf = body, None
        author = str(view.user.get("displayName", ""))
        comment = self._state.add_comment(issue, text=text, adf=adf, author=author)
        return json_response(201, view.comment(issue, comment))

    def _get_transitions(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        return json_response(200, self._view(request).transitions(issue))

    def _post_transition(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        transition = request.json_object().get("transition")
        transition_id = transition.get("id") if isinstance(transition, dict) else None
        if transition_id is None:
            raise BadRequest("Missing 'transition' identifier")
        self._state.transition(issue, str(transition_id))
        return Response(204)
