"""Bitbucket Cloud simulator (``/2.0``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jirabucket.testing.bitbucket.bbql import parse_bbql
from jirabucket.testing.bitbucket.graph import GraphCommit
from jirabucket.testing.bitbucket.simulator import BitbucketSimulatorBase
from jirabucket.testing.bitbucket.state import (
    AuthorKind,
    PullRequestSnapshot,
    StoredBuildStatus,
    StoredPullRequest,
    StoredRepo,
)
from jirabucket.testing.clock import Clock
from jirabucket.testing.http.messages import BadRequest, Credentials, Request, Response, json_response, text_response
from jirabucket.testing.ratelimit import Admission, HourlyLimit, RollingBudget

__all__ = ["BitbucketCloudSimulator", "PullRequestSnapshot"]

_REPO = r"/repositories/(?P<ws>[^/]+)/(?P<slug>[^/]+)"
_PR = _REPO + r"/pullrequests/(?P<pr>\d+)"
_COMMIT = _REPO + r"/commit/(?P<commit>[^/]+)"
_SORTS = {"updated_on", "created_on", "id"}
_BUILD_STATES = frozenset({"SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED"})
_RATE_LIMITED = "Rate limit for this resource has been exceeded"
_NOT_FOR_ACCESS_TOKENS = "This API is not accessible by this authentication mechanism"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _user(name: str, kind: AuthorKind = "user") -> dict[str, Any]:
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bitbucket-user:{name}"))
    return {
        "type": "app_user" if kind == "app" else "user",
        "display_name": name,
        "uuid": "{" + ident + "}",
        "account_id": "557058:" + ident,
        "nickname": name.lower().replace(" ", ""),
        "links": {"avatar": {"href": f"https://avatar.example/{ident}.png"}},
    }


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"c:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("c:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(f"Invalid page: {cursor}") from None


class BitbucketCloudSimulator(BitbucketSimulatorBase):
    """Bitbucket Cloud REST 2.0 under ``/2.0``.

    Auth is ``Bearer <token>``, and also Basic ``username:token`` when a
    username is given. Pull request lists default to ``OPEN`` unless ``state``
    (repeatable) or a BBQL ``state`` clause says otherwise.

    Rate limits, as Atlassian documents them: a 429 carries no ``Retry-After``
    and a plain-text body ("Rate limit for this resource has been exceeded");
    :meth:`set_hourly_limit` turns on the rolling hourly budget of
    ``/2.0/repositories/*`` (1,000 requests per credential, counted on the
    simulator's clock, which may run faster than real time). Only access tokens
    get ``X-RateLimit-Limit``, ``X-RateLimit-Resource`` and
    ``X-RateLimit-NearLimit`` (true under 20% left), on every answer of those
    endpoints. Guessed: which requests count (those the budget admits; refused
    ones do not) and the resource name ``api``.

    Access tokens (``access_token=True``: the Bearer token is a repository,
    project or workspace access token) have no account: ``GET /2.0/user``
    answers 403 "This API is not accessible by this authentication mechanism"
    (the message is Atlassian's, from its knowledge base; the status is a guess)
    while repository endpoints work.

    Commits: ``/commits`` (``include``/``exclude``, repeatable; all refs when no
    ``include``) and ``/commits/{revision}`` list the graph newest first, paged
    with opaque ``page`` cursors (``pagelen`` 30 by default, at most 100); an
    unknown ref answers 404 "Commit not found" (as clients report it). Build
    statuses: ``POST /commit/{hash}/statuses/build`` (``key``, ``state``,
    ``url`` required; the same key overwrites and answers 201 again, a guess),
    ``GET /commit/{hash}/statuses``, ``GET``/``PUT .../statuses/build/{key}``.

    Args:
        token: The Bearer token.
        username: The Basic user name; Basic auth is refused when ``None``.
        access_token: The Bearer token is an access token (see above); otherwise
            it acts for a user account (like an OAuth token).
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of 429 windows and the hourly budget (see
            :mod:`jirabucket.testing.clock`).
    """

    _prefixes = ("/2.0",)

    def __init__(
        self,
        *,
        token: str = "bb-cloud-token",  # noqa: S107 - documented test credential
        username: str | None = None,
        access_token: bool = False,
        port: int = 0,
        seed: int = 0,
        clock: Clock | None = None,
    ) -> None:
        states = frozenset({"OPEN", "MERGED", "DECLINED", "SUPERSEDED"})
        super().__init__(states=states, build_states=_BUILD_STATES, port=port, seed=seed, clock=clock)
        self.token = token
        self.username = username
        self.access_token = access_token
        self._budget: RollingBudget | None = None
        route = self._router.add
        route("GET", "/user", self._get_user)
        route("GET", r"/repositories/(?P<ws>[^/]+)", self._list_repos)
        route("GET", _REPO, lambda r: json_response(200, self._repo_json(self._repo(r))))
        route("GET", _REPO + "/pullrequests", self._list_prs)
        route("GET", _PR, lambda r: json_response(200, self._pr_json(self._pr(r))))
        route("GET", _PR + "/commits", self._list_pr_commits)
        route("GET", _PR + "/comments", self._list_comments)
        route("POST", _PR + "/comments", self._post_comment)
        route("GET", _PR + "/statuses", self._list_pr_statuses)
        route("GET", _REPO + "/refs/branches", self._list_branches)
        route("POST", _REPO + "/refs/branches", self._post_branch)
        route("GET", _REPO + "/refs/tags", self._list_tags)
        route("GET", _REPO + "/commits", self._list_commits)
        route("GET", _REPO + r"/commits/(?P<revision>[^/]+)", self._list_commits)
        route("GET", _COMMIT, self._get_commit)
        route("GET", _COMMIT + "/statuses", self._list_statuses)
        route("POST", _COMMIT + "/statuses/build", self._post_status)
        route("GET", _COMMIT + r"/statuses/build/(?P<key>[^/]+)", self._get_status)
        route("PUT", _COMMIT + r"/statuses/build/(?P<key>[^/]+)", self._put_status)

    # -- rate limits -------------------------------------------------------------

    def set_hourly_limit(self, limit: HourlyLimit | None) -> None:
        """Turn on (or off, with ``None``) the rolling request budget of ``/2.0/repositories/*``.

        Every credential gets its own budget; the window runs on the simulator's
        clock: with ``clock=ScaledClock(3600)`` an hour passes in a real second.
        Beyond the budget requests answer 429 without ``Retry-After``.
        """
        with self._lock:
            self._budget = RollingBudget(limit) if limit is not None else None

    def _is_access_token(self, credentials: Credentials | None) -> bool:
        return self.access_token and credentials is not None and credentials.scheme == "bearer"

    def _admit(self, path: str, credentials: Credentials | None, now: float) -> Admission | None:
        if not path.startswith("/2.0/repositories"):
            return None
        if self._budget is None:
            # No budget in force: nothing is refused, and headers report Bitbucket's base limit.
            return Admission(True, 1000, 1000)
        assert credentials is not None  # only authenticated requests reach the budget
        who = hashlib.sha256(f"{credentials.scheme}:{credentials.user}:{credentials.secret}".encode()).hexdigest()
        return self._budget.admit(who, now)

    def _admission_headers(self, credentials: Credentials | None, admission: Admission) -> list[tuple[str, str]]:
        if not self._is_access_token(credentials):
            return []
        return [
            ("X-RateLimit-Limit", str(admission.limit)),
            ("X-RateLimit-Resource", "api"),
            ("X-RateLimit-NearLimit", "true" if admission.near_limit else "false"),
        ]

    def _too_many_requests(self, retry_after: int | None, credentials: Credentials | None) -> Response:
        answer = text_response(429, _RATE_LIMITED)
        headers = tuple(self._rate_limit_headers(retry_after, credentials))
        return Response(answer.status, answer.body, answer.content_type, headers)

    def _rate_limit_headers(self, retry_after: int | None, credentials: Credentials | None) -> list[tuple[str, str]]:
        headers = []
        if self._is_access_token(credentials):
            limit = self._budget.limit.requests if self._budget is not None else 1000
            headers += [("X-RateLimit-Limit", str(limit)), ("X-RateLimit-Resource", "api")]
            headers.append(("X-RateLimit-NearLimit", "true"))
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return headers

    def _default_retry_after(self, seconds: float) -> int | None:
        return None  # Bitbucket Cloud documents no Retry-After on its 429s.

    # -- product hooks -------------------------------------------------------

    def _credentials_ok(self, credentials: Credentials) -> bool:
        if credentials.scheme == "bearer":
            return credentials.secret == self.token
        return self.username is not None and (credentials.user, credentials.secret) == (
            self.username,
            self.token,
        )

    def _error(self, status: int, message: str, field_errors: dict[str, str]) -> Response:
        error: dict[str, Any] = {"message": message}
        if field_errors:
            error["fields"] = {name: [text] for name, text in field_errors.items()}
        return json_response(status, {"type": "error", "error": error})

    def _normalize_repo(self, repo: str) -> str:
        return repo.lower()

    def _web_url(self, pr: StoredPullRequest) -> str:
        return f"{self._base_url}/{pr.repo}/pull-requests/{pr.id}"

    # -- rendering -------------------------------------------------------------

    def _repo_ref(self, repo: StoredRepo) -> dict[str, Any]:
        return {
            "type": "repository",
            "full_name": repo.name,
            "name": repo.slug,
            "uuid": "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, repo.name)) + "}",
            "links": {
                "self": {"href": f"{self._base_url}/2.0/repositories/{repo.name}"},
                "html": {"href": f"{self._base_url}/{repo.name}"},
            },
        }

    def _repo_json(self, repo: StoredRepo) -> dict[str, Any]:
        ws_uuid = "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, repo.owner)) + "}"
        return {
            **self._repo_ref(repo),
            "slug": repo.slug,
            "is_private": True,
            "scm": "git",
            "mainbranch": {"type": "branch", "name": "main"},
            "workspace": {"type": "workspace", "slug": repo.owner, "uuid": ws_uuid},
            "created_on": _iso(datetime(2025, 1, 1, tzinfo=UTC)),
            "updated_on": _iso(datetime(2025, 1, 1, tzinfo=UTC)),
        }

    def _side(self, repo: StoredRepo, branch: str, head: str) -> dict[str, Any]:
        return {
            "branch": {"name": branch},
            # Pull requests show 12-character hashes, as Bitbucket Cloud does.
            "commit": {"hash": head[:12]},
            "repository": self._repo_ref(repo),
        }

    def _pr_json(self, pr: StoredPullRequest) -> dict[str, Any]:
        repo = self._bb.repos[pr.repo]
        api = f"{self._base_url}/2.0/repositories/{pr.repo}/pullrequests/{pr.id}"
        return {
            "type": "pullrequest",
            "id": pr.id,
            "title": pr.title,
            "description": pr.description,
            "summary": {"raw": pr.description, "markup": "markdown", "html": ""},
            "state": pr.state,
            "author": _user(pr.author, pr.author_kind),
            "source": self._side(repo, pr.source_branch, pr.head),
            "destination": self._side(repo, pr.destination_branch, repo.branches.get(pr.destination_branch, "0" * 40)),
            "comment_count": len(pr.comments),
            "task_count": 0,
            "close_source_branch": False,
            "reason": "",
            "created_on": _iso(pr.created),
            "updated_on": _iso(pr.updated),
            "reviewers": [],
            "participants": [],
            "links": {
                "self": {"href": api},
                "html": {"href": self._web_url(pr)},
                "commits": {"href": f"{api}/commits"},
                "comments": {"href": f"{api}/comments"},
            },
        }

    def _commit_json(self, repo: StoredRepo, commit: GraphCommit) -> dict[str, Any]:
        api = f"{self._base_url}/2.0/repositories/{repo.name}"
        email = commit.author.lower().replace(" ", ".") + "@example.com"
        return {
            "type": "commit",
            "hash": commit.hash,
            "date": _iso(commit.date),
            "author": {"type": "author", "raw": f"{commit.author} <{email}>"},
            "message": commit.message,
            "summary": {"raw": commit.message, "markup": "markdown", "html": ""},
            "parents": [
                {
                    "type": "commit",
                    "hash": parent,
                    "links": {
                        "self": {"href": f"{api}/commit/{parent}"},
                        "html": {"href": f"{self._base_url}/{repo.name}/commits/{parent}"},
                    },
                }
                for parent in commit.parents
            ],
            "repository": self._repo_ref(repo),
            "links": {
                "self": {"href": f"{api}/commit/{commit.hash}"},
                "html": {"href": f"{self._base_url}/{repo.name}/commits/{commit.hash}"},
                "statuses": {"href": f"{api}/commit/{commit.hash}/statuses"},
            },
        }

    def _status_json(self, repo: StoredRepo, commit: str, status: StoredBuildStatus) -> dict[str, Any]:
        api = f"{self._base_url}/2.0/repositories/{repo.name}/commit/{commit}"
        body: dict[str, Any] = {
            "type": "build",
            "key": status.key,
            "state": status.state,
            "name": status.name,
            "description": status.description,
            "url": status.url,
            "created_on": _iso(status.created),
            "updated_on": _iso(status.updated),
            "links": {"self": {"href": f"{api}/statuses/build/{status.key}"}, "commit": {"href": api}},
        }
        if status.ref is not None:
            body["refname"] = status.ref
        return body

    # -- paging ----------------------------------------------------------------

    def _page(self, request: Request, items: Sequence[Any], *, default_len: int = 10) -> Response:
        pagelen = min(max(1, request.int_arg("pagelen", default_len)), 50)
        page = max(1, request.int_arg("page", 1))
        start = (page - 1) * pagelen
        body: dict[str, Any] = {
            "size": len(items),
            "page": page,
            "pagelen": pagelen,
            "values": list(items[start : start + pagelen]),
        }
        if start + pagelen < len(items):
            body["next"] = request.url_with(page=str(page + 1))
        if page > 1:
            body["previous"] = request.url_with(page=str(page - 1))
        return json_response(200, body)

    def _cursor_page(self, request: Request, items: Sequence[Any], *, default_len: int = 30) -> Response:
        """A page of a list whose size Bitbucket does not compute (commits): opaque cursors, no ``size``."""
        pagelen = min(max(1, request.int_arg("pagelen", default_len)), 100)
        start = _offset(request.arg("page"))
        body: dict[str, Any] = {"pagelen": pagelen, "values": list(items[start : start + pagelen])}
        if start + pagelen < len(items):
            body["next"] = request.url_with(page=_cursor(start + pagelen))
        return json_response(200, body)

    # -- handlers --------------------------------------------------------------

    def _repo(self, request: Request) -> StoredRepo:
        return self._bb.repo(f"{request.params['ws']}/{request.params['slug']}".lower())

    def _pr(self, request: Request) -> StoredPullRequest:
        return self._bb.pull_request(self._repo(request).name, request.params["pr"])

    def _list_repos(self, request: Request) -> Response:
        owner = request.params["ws"].lower()
        repos = [self._repo_json(r) for n, r in sorted(self._bb.repos.items()) if r.owner == owner]
        return self._page(request, repos)

    def _list_prs(self, request: Request) -> Response:
        repo = self._repo(request)
        query = parse_bbql(request.arg("q"))
        states = {s.upper() for s in request.query.get("state", [])}
        if not states and not query.mentions_state:
            states = {"OPEN"}  # the product's default: only open pull requests
        prs = [pr for pr in repo.pull_requests.values() if (not states or pr.state in states) and query.matches(pr)]
        sort = request.arg("sort") or "id"
        if sort.lstrip("-") not in _SORTS:
            raise BadRequest(f"Invalid sort field '{sort}'")
        field_name = {"updated_on": "updated", "created_on": "created", "id": "id"}[sort.lstrip("-")]
        prs.sort(key=lambda pr: (getattr(pr, field_name), pr.id), reverse=sort.startswith("-"))
        return self._page(request, [self._pr_json(pr) for pr in prs])

    def _get_user(self, request: Request) -> Response:
        if self._is_access_token(request.credentials):
            raise BadRequest(_NOT_FOR_ACCESS_TOKENS, status=403)
        return json_response(200, _user(self.username or "Sync Bot"))

    def _list_pr_commits(self, request: Request) -> Response:
        pr = self._pr(request)
        if pr.commits_broken:
            raise BadRequest("Commit not found", status=404)
        repo = self._bb.repos[pr.repo]
        # Newest first, as the product lists them.
        values = [self._commit_json(repo, repo.graph.commits[commit.hash]) for commit in reversed(pr.commits)]
        return self._page(request, values)

    def _resolve_ref(self, repo: StoredRepo, ref: str) -> str:
        sha = repo.resolve(ref)
        if sha is None:
            raise BadRequest("Commit not found", status=404)
        return sha

    def _list_commits(self, request: Request) -> Response:
        repo = self._repo(request)
        include = request.query.get("include", []) + (
            [request.params["revision"]] if "revision" in request.params else []
        )
        exclude = request.query.get("exclude", [])
        heads = [self._resolve_ref(repo, ref) for ref in include] or [*repo.branches.values(), *repo.tags.values()]
        log = repo.graph.log(heads, [self._resolve_ref(repo, ref) for ref in exclude])
        return self._cursor_page(request, [self._commit_json(repo, commit) for commit in log])

    def _get_commit(self, request: Request) -> Response:
        repo = self._repo(request)
        sha = self._resolve_ref(repo, request.params["commit"])
        return json_response(200, self._commit_json(repo, repo.graph.commits[sha]))

    def _list_statuses(self, request: Request) -> Response:
        repo = self._repo(request)
        sha = self._resolve_ref(repo, request.params["commit"])
        statuses = [self._status_json(repo, sha, s) for s in repo.statuses.get(sha, {}).values()]
        return self._page(request, statuses)

    def _list_pr_statuses(self, request: Request) -> Response:
        pr = self._pr(request)
        repo = self._bb.repos[pr.repo]
        statuses = [self._status_json(repo, pr.head, s) for s in repo.statuses.get(pr.head, {}).values()]
        return self._page(request, statuses)

    def _store_status(self, request: Request, existing: StoredBuildStatus | None) -> tuple[dict[str, Any], bool]:
        """Validate and store a status; a PUT (``existing`` given) keeps the fields it leaves out."""
        repo = self._repo(request)
        sha = self._resolve_ref(repo, request.params["commit"])
        given = request.json_object()
        body: dict[str, Any] = {
            "key": existing.key if existing else given.get("key"),
            "state": existing.state if existing else None,
            "url": existing.url if existing else None,
            "name": existing.name if existing else None,
            "description": existing.description if existing else None,
            "refname": existing.ref if existing else None,
        }
        body.update({name: value for name, value in given.items() if name != "key" or existing is None})
        missing = {
            name: "This field is required."
            for name in ("key", "state", "url")
            if not isinstance(body.get(name), str) or not body.get(name)
        }
        if missing:
            raise BadRequest(f"{next(iter(missing))}: This field is required.", field_errors=missing)
        if body["state"] not in _BUILD_STATES:
            raise BadRequest(
                f'state: "{body["state"]}" is not a valid choice.', field_errors={"state": "Not a valid choice."}
            )
        refname = body.get("refname")
        status, created = self._bb.set_build_status(
            repo,
            sha,
            key=str(body["key"]),
            state=str(body["state"]),
            url=str(body["url"]),
            name=str(body.get("name") or body["key"]),
            description=str(body.get("description") or ""),
            ref=refname if isinstance(refname, str) else None,
        )
        return self._status_json(repo, sha, status), created

    def _post_status(self, request: Request) -> Response:
        status, _ = self._store_status(request, None)
        return json_response(201, status)

    def _put_status(self, request: Request) -> Response:
        repo = self._repo(request)
        sha = self._resolve_ref(repo, request.params["commit"])
        existing = repo.statuses.get(sha, {}).get(request.params["key"])
        if existing is None:
            raise BadRequest(f"No build status with key {request.params['key']}", status=404)
        status, _ = self._store_status(request, existing)
        return json_response(200, status)

    def _get_status(self, request: Request) -> Response:
        repo = self._repo(request)
        sha = self._resolve_ref(repo, request.params["commit"])
        status = repo.statuses.get(sha, {}).get(request.params["key"])
        if status is None:
            raise BadRequest(f"No build status with key {request.params['key']}", status=404)
        return json_response(200, self._status_json(repo, sha, status))

    def _comment_json(self, pr: StoredPullRequest, comment: Any) -> dict[str, Any]:
        return {
            "type": "pullrequest_comment",
            "id": comment.id,
            "content": {"raw": comment.text, "markup": "markdown", "html": ""},
            "user": _user(comment.author),
            "created_on": _iso(comment.created),
            "updated_on": _iso(comment.created),
            "deleted": False,
            "pullrequest": {"type": "pullrequest", "id": pr.id, "title": pr.title},
            "links": {"html": {"href": f"{self._web_url(pr)}#comment-{comment.id}"}},
        }

    def _list_comments(self, request: Request) -> Response:
        pr = self._pr(request)
        return self._page(request, [self._comment_json(pr, c) for c in pr.comments])

    def _post_comment(self, request: Request) -> Response:
        pr = self._pr(request)
        content = request.json_object().get("content")
        raw = content.get("raw") if isinstance(content, dict) else None
        if not isinstance(raw, str) or not raw.strip():
            raise BadRequest("Bad request", field_errors={"content": "This field is required."})
        comment = self._bb.add_comment(pr, text=raw, author=self.username or "Sync Bot")
        return json_response(201, self._comment_json(pr, comment))

    def _branch_json(self, repo: StoredRepo, name: str) -> dict[str, Any]:
        return {
            "type": "branch",
            "name": name,
            "target": {"type": "commit", "hash": repo.branches[name]},
            "links": {"html": {"href": f"{self._base_url}/{repo.name}/branch/{name}"}},
            "merge_strategies": ["merge_commit", "squash", "fast_forward"],
            "default_merge_strategy": "merge_commit",
        }

    def _list_branches(self, request: Request) -> Response:
        repo = self._repo(request)
        return self._page(request, [self._branch_json(repo, n) for n in sorted(repo.branches)])

    def _post_branch(self, request: Request) -> Response:
        repo = self._repo(request)
        body = request.json_object()
        name, target = body.get("name"), body.get("target")
        target_hash = target.get("hash") if isinstance(target, dict) else None
        if not isinstance(name, str) or not name or not isinstance(target_hash, str):
            raise BadRequest("Branch name and target.hash are required.")
        if name in repo.branches:
            raise BadRequest(f"BRANCH_ALREADY_EXISTS: Branch '{name}' already exists")
        repo.branches[name] = target_hash
        return json_response(201, self._branch_json(repo, name))

    def _tag_json(self, repo: StoredRepo, name: str) -> dict[str, Any]:
        sha = repo.tags[name]
        target = repo.graph.commits.get(sha)
        return {
            "type": "tag",
            "name": name,
            "target": self._commit_json(repo, target) if target is not None else {"type": "commit", "hash": sha},
            "links": {
                "self": {"href": f"{self._base_url}/2.0/repositories/{repo.name}/refs/tags/{name}"},
                "html": {"href": f"{self._base_url}/{repo.name}/commits/tag/{name}"},
            },
        }

    def _list_tags(self, request: Request) -> Response:
        repo = self._repo(request)
        return self._page(request, [self._tag_json(repo, n) for n in sorted(repo.tags)])
