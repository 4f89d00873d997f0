"""Bitbucket Data Center simulator (``/rest/api/1.0`` and ``/rest/api/latest``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from jirabucket.testing.bitbucket.graph import GraphCommit
from jirabucket.testing.bitbucket.simulator import BitbucketSimulatorBase
from jirabucket.testing.bitbucket.state import (
    AuthorKind,
    StoredBuildStatus,
    StoredPrComment,
    StoredPullRequest,
    StoredRepo,
    commit_hash,
)
from jirabucket.testing.clock import Clock
from jirabucket.testing.http.messages import BadRequest, Request, Response, json_response, text_response
from jirabucket.testing.http.server import Credentials

__all__ = ["BitbucketDataCenterSimulator"]

_REPO = r"/projects/(?P<key>[^/]+)/repos/(?P<slug>[^/]+)"
_PR = _REPO + r"/pull-requests/(?P<pr>\d+)"
_COMMIT = _REPO + r"/commits/(?P<commit>[^/]+)"
_BUILD_STATES = frozenset({"SUCCESSFUL", "FAILED", "INPROGRESS", "CANCELLED", "UNKNOWN"})
_NO_SUCH_COMMIT = "com.atlassian.bitbucket.commit.NoSuchCommitException"

_EXCEPTIONS = {
    401: "com.atlassian.bitbucket.auth.IncorrectPasswordAuthenticationException",
    404: "com.atlassian.bitbucket.NoSuchEntityException",
    409: "com.atlassian.bitbucket.DuplicateEntityException",
}


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class BitbucketDataCenterSimulator(BitbucketSimulatorBase):
    """Bitbucket Data Center under ``/rest/api/1.0`` and ``/rest/api/latest``.

    Auth is ``Bearer <token>`` (Basic ``username:token`` works too, as for
    personal tokens). Every authenticated answer carries ``X-AUSERNAME``.
    Pull requests page with ``start``/``limit``/``nextPageStart`` and carry
    ``createdDate``/``updatedDate`` (epoch milliseconds). ``order=NEWEST`` (the
    default) lists newest first and ``OLDEST`` the reverse; Atlassian documents
    only "newer pull requests first", so *by what* is a setting:
    ``newest_first_by="updated"`` (the default) or ``"created"``, under which a
    client that stops paging at its cursor without checking ``updatedDate``
    misses pull requests updated since.

    Commits: ``/commits?since=A&until=B`` (``since`` exclusive, ``until``
    inclusive and the default branch's head when absent; ``merges`` =
    ``include``/``exclude``/``only``), ``/commits/{id}``, ``/tags``. A ref that
    names no commit answers 404 ``NoSuchCommitException`` ("Commit 'X' does not
    exist in repository 'slug'.", as the product words it; its REST docs list 400
    for invalid ids, which the simulator leaves to malformed requests). A pull
    request whose commits are gone (:meth:`break_commits`) answers the same 404.
    Build statuses (9.2, repository-scoped): ``POST .../commits/{id}/builds``
    (``key``, ``state``, ``url`` required; 204; the same key overwrites),
    ``GET .../builds?key=K`` and ``DELETE .../builds?key=K``. The older
    ``/rest/build-status/1.0`` resource is not served.

    Args:
        token: The HTTP access token.
        username: The token owner's user name.
        newest_first_by: What ``order=NEWEST`` sorts by: ``"updated"`` or ``"created"``.
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of 429 windows (see :mod:`jirabucket.testing.clock`).
    """

    _prefixes = (r"/rest/api/(?:1\.0|latest)",)

    def __init__(
        self,
        *,
        token: str = "bb-dc-token",  # noqa: S107 - documented test credential
        username: str = "bot",
        newest_first_by: Literal["updated", "created"] = "updated",
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
    ) -> None:
        states = frozenset({"OPEN", "MERGED", "DECLINED"})
        super().__init__(states=states, build_states=_BUILD_STATES, port=port, seed=seed, clock=clock)
        self.token = token
        self.username = username
        self.newest_first_by = newest_first_by
        route = self._router.add
        route("GET", r"/users/(?P<user>[^/]+)", self._get_user)
        route("GET", r"/projects/(?P<key>[^/]+)/repos", self._list_repos)
        route("GET", _REPO, lambda r: json_response(200, self._repo_json(self._repo(r))))
        route("GET", _REPO + "/pull-requests", self._list_prs)
        route("GET", _PR, lambda r: json_response(200, self._pr_json(self._pr(r))))
        route("GET", _PR + "/commits", self._list_pr_commits)
        route("GET", _PR + "/activities", self._list_activities)
        route("POST", _PR + "/comments", self._post_comment)
        route("GET", _REPO + "/branches", self._list_branches)
        route("POST", _REPO + "/branches", self._post_branch)
        route("GET", _REPO + "/tags", self._list_tags)
        route("GET", _REPO + "/commits", self._list_commits)
        route("GET", _COMMIT, self._get_commit)
        route("GET", _COMMIT + "/builds", self._get_build)
        route("POST", _COMMIT + "/builds", self._post_build)
        route("DELETE", _COMMIT + "/builds", self._delete_build)
        whoami = lambda _r: text_response(200, self.username)  # noqa: E731
        route("GET", "/plugins/servlet/applinks/whoami", whoami, prefixed=False)

    # -- product hooks -------------------------------------------------------

    def _credentials_ok(self, credentials: Credentials) -> bool:
        if credentials.scheme == "bearer":
            return credentials.secret == self.token
        return (credentials.user, credentials.secret) == (self.username, self.token)

    def _error(self, status: int, message: str, field_errors: dict[str, str]) -> Response:
        return self._errors(status, message, field_errors, _EXCEPTIONS.get(status, ""))

    def _refusal(self, exc: BadRequest) -> Response:
        return self._errors(exc.status, exc.message, exc.field_errors, exc.code or _EXCEPTIONS.get(exc.status, ""))

    def _errors(self, status: int, message: str, field_errors: dict[str, str], exception: str) -> Response:
        # The product also sends "context": null; left out because the 9.2 spec declares context a string.
        errors: list[dict[str, Any]] = [{"message": message, "exceptionName": exception}]
        errors += [{"context": k, "message": v} for k, v in field_errors.items()]
        return json_response(status, {"errors": errors})

    def _extra_headers(self, credentials_ok: bool) -> list[tuple[str, str]]:
        return [("X-AUSERNAME", self.username)] if credentials_ok else []

    def _normalize_repo(self, repo: str) -> str:
        key, _, slug = repo.partition("/")
        return f"{key.upper()}/{slug.lower()}"

    def _web_url(self, pr: StoredPullRequest) -> str:
        key, _, slug = pr.repo.partition("/")
        return f"{self._base_url}/projects/{key}/repos/{slug}/pull-requests/{pr.id}"

    # -- rendering -------------------------------------------------------------

    def _user_json(self, name: str, kind: AuthorKind = "user") -> dict[str, Any]:
        slug = name.lower().replace(" ", "")
        return {
            "name": slug,
            "emailAddress": f"{slug}@example.com",
            "active": True,
            "displayName": name,
            "id": 100 + sum(map(ord, slug)),
            "slug": slug,
            "type": "SERVICE" if kind == "app" else "NORMAL",
            "links": {"self": [{"href": f"{self._base_url}/users/{slug}"}]},
        }

    def _repo_json(self, repo: StoredRepo) -> dict[str, Any]:
        base = f"{self._base_url}/projects/{repo.owner}/repos/{repo.slug}"
        return {
            "slug": repo.slug,
            "id": 1 + sorted(self._bb.repos).index(repo.name),
            "name": repo.slug,
            "hierarchyId": commit_hash(repo.name)[:20],
            "scmId": "git",
            "state": "AVAILABLE",
            "statusMessage": "Available",
            "forkable": True,
            "project": {
                "key": repo.owner,
                "id": 1 + sum(map(ord, repo.owner)),
                "name": repo.owner.title(),
                "public": False,
                "type": "NORMAL",
                "links": {"self": [{"href": f"{self._base_url}/projects/{repo.owner}"}]},
            },
            "public": False,
            "archived": False,
            "links": {"self": [{"href": f"{base}/browse"}]},
        }

    def _ref(self, repo: StoredRepo, branch: str, head: str | None = None) -> dict[str, Any]:
        head = head or repo.branches.get(branch, "0" * 40)
        return {
            "id": f"refs/heads/{branch}",
            "displayId": branch,
            "latestCommit": head,
            "type": "BRANCH",
            "repository": self._repo_json(repo),
        }

    def _pr_json(self, pr: StoredPullRequest) -> dict[str, Any]:
        repo = self._bb.repos[pr.repo]
        body: dict[str, Any] = {
            "id": pr.id,
            "version": 0,
            "title": pr.title,
            "description": pr.description,
            "state": pr.state,
            "open": pr.state == "OPEN",
            "closed": pr.state != "OPEN",
            "createdDate": _millis(pr.created),
            "updatedDate": _millis(pr.updated),
            "fromRef": self._ref(repo, pr.source_branch, pr.head),
            "toRef": self._ref(repo, pr.destination_branch),
            "locked": False,
            "author": {
                "user": self._user_json(pr.author, pr.author_kind),
                "role": "AUTHOR",
                "approved": False,
                "status": "UNAPPROVED",
            },
            "reviewers": [],
            "participants": [],
            "links": {"self": [{"href": self._web_url(pr)}]},
        }
        if pr.state != "OPEN":
            body["closedDate"] = _millis(pr.updated)
        return body

    def _comment_json(self, comment: StoredPrComment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "version": 0,
            "text": comment.text,
            "author": self._user_json(comment.author),
            "createdDate": _millis(comment.created),
            "updatedDate": _millis(comment.created),
            "comments": [],
            "severity": "NORMAL",
            "state": "OPEN",
        }

    # -- paging ----------------------------------------------------------------

    def _page(self, request: Request, items: Sequence[Any], *, default_limit: int = 25) -> Response:
        start = max(0, request.int_arg("start", 0))
        limit = min(max(1, request.int_arg("limit", default_limit)), 1000)
        values = list(items[start : start + limit])
        last = start + limit >= len(items)
        body: dict[str, Any] = {
            "size": len(values),
            "limit": limit,
            "isLastPage": last,
            "start": start,
            "values": values,
        }
        if not last:
            body["nextPageStart"] = start + limit
        return json_response(200, body)

    # -- handlers --------------------------------------------------------------

    def _repo(self, request: Request) -> StoredRepo:
        name = self._normalize_repo(f"{request.params['key']}/{request.params['slug']}")
        return self._bb.repo(name)

    def _pr(self, request: Request) -> StoredPullRequest:
        return self._bb.pull_request(self._repo(request).name, request.params["pr"])

    def _get_user(self, request: Request) -> Response:
        slug = request.params["user"].lower()
        if slug != self.username.lower():
            raise BadRequest(f"User {slug} does not exist.", status=404)
        return json_response(200, self._user_json(self.username))

    def _list_repos(self, request: Request) -> Response:
        key = request.params["key"].upper()
        repos = [self._repo_json(r) for n, r in sorted(self._bb.repos.items()) if r.owner == key]
        return self._page(request, repos)

    def _list_prs(self, request: Request) -> Response:
        repo = self._repo(request)
        state = (request.arg("state") or "OPEN").upper()
        if state not in self._bb.states | {"ALL"}:
            raise BadRequest(f"Invalid pull request state '{state}'.")
        order = (request.arg("order") or "NEWEST").upper()
        if order not in {"NEWEST", "OLDEST"}:
            raise BadRequest(f"Invalid order '{order}'.")
        prs = [pr for pr in repo.pull_requests.values() if state in ("ALL", pr.state)]
        by = "updated" if self.newest_first_by == "updated" else "created"
        prs.sort(key=lambda pr: (getattr(pr, by), pr.id), reverse=order == "NEWEST")
        return self._page(request, [self._pr_json(pr) for pr in prs])

    def _commit_json(self, commit: GraphCommit) -> dict[str, Any]:
        person = {"name": commit.author.lower().replace(" ", ""), "emailAddress": _email(commit.author)}
        return {
            "id": commit.hash,
            "displayId": commit.hash[:11],
            "author": person,
            "authorTimestamp": _millis(commit.date),
            "committer": person,
            "committerTimestamp": _millis(commit.date),
            "message": commit.message,
            "parents": [{"id": parent, "displayId": parent[:11]} for parent in commit.parents],
        }

    def _no_such_commit(self, repo: StoredRepo, ref: str) -> BadRequest:
        return BadRequest(
            f"Commit '{ref}' does not exist in repository '{repo.slug}'.", status=404, code=_NO_SUCH_COMMIT
        )

    def _resolve_ref(self, repo: StoredRepo, ref: str) -> str:
        sha = repo.resolve(ref)
        if sha is None:
            raise self._no_such_commit(repo, ref)
        return sha

    def _list_pr_commits(self, request: Request) -> Response:
        pr = self._pr(request)
        repo = self._bb.repos[pr.repo]
        if pr.commits_broken:
            raise self._no_such_commit(repo, pr.head)
        # Newest first, as the product lists them.
        return self._page(request, [self._commit_json(repo.graph.commits[c.hash]) for c in reversed(pr.commits)])

    def _list_commits(self, request: Request) -> Response:
        repo = self._repo(request)
        until = self._resolve_ref(repo, request.arg("until") or repo.branches["main"])
        since = request.arg("since")
        excluded = [self._resolve_ref(repo, since)] if since else []
        merges = (request.arg("merges") or "include").lower()
        if merges not in {"include", "exclude", "only"}:
            raise BadRequest(f"Invalid merges value '{merges}'; use include, exclude or only.")
        log = repo.graph.log([until], excluded)
        if merges != "include":
            log = [c for c in log if (len(c.parents) > 1) == (merges == "only")]
        return self._page(request, [self._commit_json(commit) for commit in log])

    def _get_commit(self, request: Request) -> Response:
        repo = self._repo(request)
        sha = self._resolve_ref(repo, request.params["commit"])
        return json_response(200, self._commit_json(repo.graph.commits[sha]))

    def _build_json(self, status: StoredBuildStatus) -> dict[str, Any]:
        body: dict[str, Any] = {
            "key": status.key,
            "state": status.state,
            "url": status.url,
            "name": status.name,
            "description": status.description,
            "createdDate": _millis(status.created),
            "updatedDate": _millis(status.updated),
        }
        if status.ref is not None:
            body["ref"] = status.ref
        return body

    def _build_commit(self, request: Request) -> tuple[StoredRepo, str]:
        repo = self._repo(request)
        sha = repo.resolve(request.params["commit"])
        if sha is None:
            # The 9.2 docs: 400 when "an invalid commit hash was provided".
            raise BadRequest(
                f"Commit '{request.params['commit']}' does not exist in repository '{repo.slug}'.",
                code=_NO_SUCH_COMMIT,
            )
        return repo, sha

    def _build_key(self, request: Request) -> str:
        key = request.arg("key")
        if not key:
            raise BadRequest("The key parameter is required.", field_errors={"key": "key is required"})
        return key

    def _get_build(self, request: Request) -> Response:
        repo, sha = self._build_commit(request)
        key = self._build_key(request)
        status = repo.statuses.get(sha, {}).get(key)
        if status is None:
            raise BadRequest(f"No build status with key '{key}' exists for commit '{sha}'.", status=404)
        return json_response(200, self._build_json(status))

    def _post_build(self, request: Request) -> Response:
        repo, sha = self._build_commit(request)
        body = request.json_object()
        missing = {
            name: f"{name} must not be blank"
            for name in ("key", "state", "url")
            if not isinstance(body.get(name), str) or not body.get(name)
        }
        if missing:
            raise BadRequest("The build status is invalid.", field_errors=missing)
        if body["state"] not in _BUILD_STATES:
            raise BadRequest(
                f"Invalid build state '{body['state']}'.",
                field_errors={"state": "must be one of " + ", ".join(sorted(_BUILD_STATES))},
            )
        ref = body.get("ref")
        self._bb.set_build_status(
            repo,
            sha,
            key=body["key"],
            state=body["state"],
            url=body["url"],
            name=str(body.get("name") or body["key"]),
            description=str(body.get("description") or ""),
            ref=ref if isinstance(ref, str) else None,
        )
        return Response(204)

    def _delete_build(self, request: Request) -> Response:
        repo, sha = self._build_commit(request)
        key = self._build_key(request)
        if repo.statuses.get(sha, {}).pop(key, None) is None:
            raise BadRequest(f"No build status with key '{key}' exists for commit '{sha}'.", status=404)
        return Response(204)

    def _list_activities(self, request: Request) -> Response:
        pr = self._pr(request)
        activities: list[dict[str, Any]] = [
            {
                "id": 1000 + comment.id,
                "createdDate": _millis(comment.created),
                "user": self._user_json(comment.author),
                "action": "COMMENTED",
                "commentAction": "ADDED",
                "comment": self._comment_json(comment),
            }
            for comment in reversed(pr.comments)  # newest first
        ]
        opened = {
            "id": pr.id,
            "createdDate": _millis(pr.created),
            "user": self._user_json(pr.author),
            "action": "OPENED",
        }
        return self._page(request, [*activities, opened])

    def _post_comment(self, request: Request) -> Response:
        pr = self._pr(request)
        text = request.json_object().get("text")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("Please enter a non-empty value", field_errors={"text": "required"})
        comment = self._bb.add_comment(pr, text=text, author=self.username)
        return json_response(201, self._comment_json(comment))

    def _branch_json(self, repo: StoredRepo, name: str) -> dict[str, Any]:
        return {
            "id": f"refs/heads/{name}",
            "displayId": name,
            "type": "BRANCH",
            "latestCommit": repo.branches[name],
            "latestChangeset": repo.branches[name],
            "isDefault": name == "main",
        }

    def _list_branches(self, request: Request) -> Response:
        repo = self._repo(request)
        return self._page(request, [self._branch_json(repo, n) for n in sorted(repo.branches)])

    def _post_branch(self, request: Request) -> Response:
        repo = self._repo(request)
        body = request.json_object()
        name, start_point = body.get("name"), body.get("startPoint")
        if not isinstance(name, str) or not name or not isinstance(start_point, str):
            raise BadRequest("name and startPoint are required.")
        name = name.removeprefix("refs/heads/")
        if name in repo.branches:
            raise BadRequest(f"Branch '{name}' already exists.", status=409)
        start_name = start_point.removeprefix("refs/heads/")
        repo.branches[name] = repo.branches.get(start_name, start_point)
        return json_response(200, self._branch_json(repo, name))

    def _list_tags(self, request: Request) -> Response:
        repo = self._repo(request)
        tags = [
            {
                "id": f"refs/tags/{name}",
                "displayId": name,
                "type": "TAG",
                "latestCommit": repo.tags[name],
                "latestChangeset": repo.tags[name],
                "hash": repo.tags[name],
            }
            for name in sorted(repo.tags)
        ]
        return self._page(request, tags)


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.com"
