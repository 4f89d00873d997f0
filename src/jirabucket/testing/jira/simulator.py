"""What the Jira Cloud and Data Center simulators share: the state API and the resources both serve.

Issues (GET, PUT for ``fixVersions`` and ``summary``), remote links, comments
(list, post, get, delete), transitions (with screens, validators and
``expand=transitions.fields``), projects (read by key or id) and project versions.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jirabucket.testing.clock import Clock
from jirabucket.testing.http.messages import BadRequest, Request, Response, json_response
from jirabucket.testing.http.server import Credentials, SimulatorBase
from jirabucket.testing.jira.edit import apply_edit
from jirabucket.testing.jira.jql import parse_jql
from jirabucket.testing.jira.render import JiraView, parse_expand, parse_fields
from jirabucket.testing.jira.state import (
    IssueSnapshot,
    JiraState,
    StoredIssue,
    StoredVersion,
    VersionSnapshot,
    adf_text,
)
from jirabucket.testing.jira.workflow import Workflow

__all__ = ["SERVER_TIME", "JiraSimulatorBase"]

SERVER_TIME = "2026-01-05T09:00:00.000+0000"
"""The ``serverTime`` both flavors report."""

_ISSUE = r"/issue/(?P<key>[^/]+)"
_COMMENT = _ISSUE + r"/comment/(?P<comment>[^/]+)"
_VERSION = r"/version/(?P<vid>[^/]+)"


class JiraSimulatorBase(SimulatorBase):
    """State and the resources both Jira flavors serve.

    Args:
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of 429 windows (see :mod:`jirabucket.testing.clock`).
        workflow: The workflow every issue follows; :meth:`Workflow.default` when ``None``.
    """

    def __init__(
        self, *, port: int = 0, seed: int = 0, clock: Clock | None = None, workflow: Workflow | None = None
    ) -> None:
        super().__init__(port=port, seed=seed, clock=clock)
        self._state = JiraState(workflow or Workflow.default())
        self._serve_transitions_expand = True
        route = self._router.add
        route("GET", "/myself", lambda r: json_response(200, self._user(r)))
        route("GET", "/serverInfo", lambda r: json_response(200, self._server_info(r)))
        route("GET", _ISSUE, self._get_issue)
        route("PUT", _ISSUE, self._put_issue)
        route("GET", _ISSUE + "/remotelink", self._get_links)
        route("POST", _ISSUE + "/remotelink", self._post_link)
        route("GET", _ISSUE + "/comment", self._get_comments)
        route("POST", _ISSUE + "/comment", self._post_comment)
        route("GET", _COMMENT, self._get_comment)
        route("DELETE", _COMMENT, self._delete_comment)
        route("GET", _ISSUE + "/transitions", self._get_transitions)
        route("POST", _ISSUE + "/transitions", self._post_transition)
        route("GET", r"/project/(?P<project>[^/]+)", self._get_project)
        route("GET", r"/project/(?P<project>[^/]+)/versions", self._get_project_versions)
        route("POST", "/version", self._post_version)
        route("GET", _VERSION, self._get_version)
        route("PUT", _VERSION, self._put_version)

    # -- product hooks -------------------------------------------------------

    @abstractmethod
    def _user(self, request: Request) -> dict[str, Any]:
        """Return the authenticated user's JSON."""

    @abstractmethod
    def _server_info(self, request: Request) -> dict[str, Any]:
        """Return the serverInfo JSON."""

    def _rate_limit_headers(self, retry_after: int | None, credentials: Credentials | None) -> list[tuple[str, str]]:
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

    # -- state API: issues ---------------------------------------------------

    def add_issue(
        self,
        key: str,
        *,
        summary: str = "Issue",
        status: str = "To Do",
        description: str = "",
        issue_type: str = "Task",
        fix_versions: Sequence[str] = (),
    ) -> None:
        """Create an issue (or replace one with the same key); its project is the key's prefix.

        Args:
            key: Issue key, e.g. ``ABC-12``.
            summary: Summary line.
            status: A status of the workflow (default workflow: ``To Do``,
                ``In Progress``, ``In Review``, ``Done``).
            description: Plain-text description.
            issue_type: Issue type name (``Task``, ``Bug``, ``Story``...).
            fix_versions: Names of versions of the issue's project (see :meth:`add_version`).

        Raises:
            ValueError: Unknown status or version, or a malformed key.
        """
        with self._lock:
            self._state.add(
                key.upper(),
                summary=summary,
                status=status,
                description=description,
                issue_type=issue_type,
                fix_versions=fix_versions,
            )

    def delete_issue(self, key: str) -> None:
        """Delete an issue.

        Raises:
            KeyError: No such issue.
        """
        with self._lock:
            del self._state.issues[key.upper()]

    def issue(self, key: str) -> IssueSnapshot:
        """Return a frozen snapshot of an issue: status, resolution, links, comments, versions.

        Raises:
            KeyError: No such issue.
        """
        with self._lock:
            return self._state.snapshot(key.upper())

    def issue_keys(self) -> list[str]:
        """Return every issue key, ordered by project and number."""
        with self._lock:
            return self._state.sorted_keys()

    def add_comment(self, key: str, text: str, *, author: str = "Another User") -> str:
        """Post a comment as someone else (another writer, a colleague) and return its id.

        Raises:
            KeyError: No such issue.
        """
        with self._lock:
            issue = self._state.issues[key.upper()]
            return self._state.add_comment(issue, text=text, adf=None, author=author).id

    # -- state API: workflow -------------------------------------------------

    @property
    def workflow(self) -> Workflow:
        """The workflow every issue follows."""
        with self._lock:
            return self._state.workflow

    def set_workflow(self, workflow: Workflow) -> None:
        """Switch every issue to another workflow (their statuses must exist in it).

        Raises:
            ValueError: An issue's status is not in the new workflow.
        """
        with self._lock:
            self._state.set_workflow(workflow)

    def fail_transitions(self, key: str, message: str | None, *, to: str | None = None) -> None:
        """Make a validator refuse this issue's transitions (400 with ``errorMessages: [message]``).

        Args:
            key: Issue key.
            message: Jira's message, e.g. ``"Only the assignee can resolve."``;
                ``None`` removes the failure again.
            to: Only transitions into this status; ``None``: every transition.

        Raises:
            KeyError: No such issue.
        """
        with self._lock:
            failures = self._state.issues[key.upper()].transition_failures
            if message is None:
                failures.pop(to, None)
            else:
                failures[to] = message

    def drop_transitions_expand(self, drop: bool = True) -> None:
        """Ignore ``expand=transitions`` on GET issue, as a third-party Jira Data Center mock does.

        The ``/transitions`` resource keeps working; only the expansion is left out.
        """
        with self._lock:
            self._serve_transitions_expand = not drop

    # -- state API: versions ---------------------------------------------------

    def add_version(
        self,
        project: str,
        name: str,
        *,
        released: bool = False,
        release_date: date | None = None,
        archived: bool = False,
        description: str = "",
    ) -> str:
        """Create a version in a project (the project becomes known if it was not) and return its id.

        Raises:
            ValueError: The name is empty or already taken in that project.
        """
        with self._lock:
            try:
                version = self._state.add_version(
                    project.upper(),
                    name,
                    released=released,
                    release_date=release_date,
                    archived=archived,
                    description=description,
                )
            except BadRequest as exc:
                raise ValueError(next(iter(exc.field_errors.values()), exc.message)) from None
            return version.id

    def versions(self, project: str) -> tuple[VersionSnapshot, ...]:
        """Return a project's versions in creation order."""
        with self._lock:
            return tuple(v.snapshot() for v in self._state.project_versions(project.upper()))

    # -- helpers for subclasses ------------------------------------------------

    def _view(self, request: Request) -> JiraView:
        version = request.params.get("version", "2")
        return JiraView(self._base_url, version, self._user(request), self._state.workflow, self._state.versions)

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

    # -- handlers: issues --------------------------------------------------------

    def _get_issue(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        fields = parse_fields(request.query.get("fields"))
        view = self._view(request)
        body = view.issue(issue, fields)
        expand = parse_expand(request.query.get("expand"))
        if self._serve_transitions_expand and expand & {"transitions", "transitions.fields"}:
            with_fields = "transitions.fields" in expand
            body["transitions"] = view.transitions(issue, with_fields=with_fields)["transitions"]
        return json_response(200, body)

    def _put_issue(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        apply_edit(self._state, issue, request.json_object())
        return Response(204)

    def _get_links(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        return json_response(200, issue.remote_links)

    def _post_link(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        link, created = self._state.upsert_link(issue, request.json_object())
        link["self"] = f"{self._view(request).api}/issue/{issue.key}/remotelink/{link['id']}"
        return json_response(201 if created else 200, {"id": link["id"], "self": link["self"]})

    # -- handlers: comments ------------------------------------------------------

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

    def _get_comment(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        comment = self._state.comment(issue, request.params["comment"])
        return json_response(200, self._view(request).comment(issue, comment))

    def _delete_comment(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        self._state.delete_comment(issue, request.params["comment"])
        return Response(204)

    # -- handlers: transitions ---------------------------------------------------

    def _get_transitions(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        with_fields = "transitions.fields" in parse_expand(request.query.get("expand"))
        return json_response(200, self._view(request).transitions(issue, with_fields=with_fields))

    def _post_transition(self, request: Request) -> Response:
        issue = self._state.get(request.params["key"])
        body = request.json_object()
        transition = body.get("transition")
        transition_id = transition.get("id") if isinstance(transition, dict) else None
        if transition_id is None:
            raise BadRequest("Missing 'transition' identifier")
        fields, update = body.get("fields") or {}, body.get("update") or {}
        if not isinstance(fields, dict) or not isinstance(update, dict):
            raise BadRequest("Can not deserialize the request: 'fields' and 'update' must be objects.")
        values = {**fields, **{key: _update_value(ops) for key, ops in update.items()}}
        self._state.transition(issue, str(transition_id), values)
        return Response(204)

    # -- handlers: versions ------------------------------------------------------

    def _version_json(self, request: Request, version: StoredVersion) -> dict[str, Any]:
        return self._view(request).version_json(version, today=datetime.now(UTC).date())

    def _get_project(self, request: Request) -> Response:
        # The fields every project answer has (a creator of versions needs its "id"); Jira's
        # lead, components, issue types and avatars are left out.
        project = self._state.project_key(request.params["project"])
        view = self._view(request)
        versions = [self._version_json(request, v) for v in self._state.project_versions(project)]
        return json_response(200, {**view.project(project), "description": "", "versions": versions})

    def _get_project_versions(self, request: Request) -> Response:
        project = self._state.project_key(request.params["project"])
        return json_response(200, [self._version_json(request, v) for v in self._state.project_versions(project)])

    def _post_version(self, request: Request) -> Response:
        body = request.json_object()
        ref = body.get("projectId", body.get("project"))
        if ref is None:
            raise BadRequest("Invalid version.", field_errors={"project": "You must specify a valid project."})
        project = self._state.project_key(ref)
        name = body.get("name")
        version = self._state.add_version(
            project,
            name if isinstance(name, str) else "",
            description=str(body.get("description") or ""),
            released=bool(body.get("released", False)),
            archived=bool(body.get("archived", False)),
            release_date=_date_field(body, "releaseDate"),
            start_date=_date_field(body, "startDate"),
        )
        return json_response(201, self._version_json(request, version))

    def _get_version(self, request: Request) -> Response:
        return json_response(200, self._version_json(request, self._state.version(request.params["vid"])))

    def _put_version(self, request: Request) -> Response:
        version = self._state.version(request.params["vid"])
        body = request.json_object()
        name = body.get("name", version.name)
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("Invalid version.", field_errors={"name": "You must specify a valid version name"})
        other = self._state.version_named(version.project, name)
        if other is not None and other is not version:
            raise BadRequest(
                "Invalid version.", field_errors={"name": "A version with this name already exists in this project."}
            )
        release_date = _date_field(body, "releaseDate") if "releaseDate" in body else version.release_date
        start_date = _date_field(body, "startDate") if "startDate" in body else version.start_date
        version.name = name
        version.description = str(body.get("description", version.description) or "")
        version.released = bool(body.get("released", version.released))
        version.archived = bool(body.get("archived", version.archived))
        version.release_date, version.start_date = release_date, start_date
        return json_response(200, self._version_json(request, version))


def _update_value(ops: Any) -> Any:
    """Return the value an ``update`` entry of a transition sets (its last ``set``)."""
    if isinstance(ops, list):
        sets = [op["set"] for op in ops if isinstance(op, dict) and "set" in op]
        return sets[-1] if sets else None
    return None


def _date_field(body: dict[str, Any], name: str) -> date | None:
    raw = body.get(name)
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise BadRequest(
            "Invalid version.",
            field_errors={name: f"Please enter the date in the following format: yyyy-MM-dd ({raw})"},
        ) from None
