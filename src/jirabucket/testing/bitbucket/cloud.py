"""Bitbucket Cloud simulator (``/2.0``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from jirabucket.testing.bitbucket.bbql import parse_bbql
from jirabucket.testing.bitbucket.simulator import BitbucketSimulatorBase
from jirabucket.testing.bitbucket.state import PullRequestSnapshot, StoredPullRequest, StoredRepo
from jirabucket.testing.http.messages import BadRequest, Request, Response, json_response
from jirabucket.testing.http.server import Credentials

__all__ = ["BitbucketCloudSimulator", "PullRequestSnapshot"]

_REPO = r"/repositories/(?P<ws>[^/]+)/(?P<slug>[^/]+)"
_PR = _REPO + r"/pullrequests/(?P<pr>\d+)"
_SORTS = {"updated_on", "created_on", "id"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _user(name: str) -> dict[str, Any]:
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bitbucket-user:{name}"))
    return {
        "type": "user",
        "display_name": name,
        "uuid": "{" + ident + "}",
        "account_id": "557058:" + ident,
        "nickname": name.lower().replace(" ", ""),
        "links": {"avatar": {"href": f"https://avatar.example/{ident}.png"}},
    }


class BitbucketCloudSimulator(BitbucketSimulatorBase):
    """Bitbucket Cloud REST 2.0 under ``/2.0``.

    Auth is ``Bearer <token>``, and also Basic ``username:token`` when a
    username is given. Pull request lists default to ``OPEN`` unless ``state``
    (repeatable) or a BBQL ``state`` clause says otherwise; 429s carry
    ``X-RateLimit-*`` but no ``Retry-After``, as on the real service.

    Args:
        token: The access token.
        username: The Basic user name; Basic auth is refused when ``None``.
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
    """

    _prefixes = ("/2.0",)

    def __init__(
        self,
        *,
        token: str = "bb-cloud-token",  # noqa: S107 - documented test credential
        username: str | None = None,
        port: int = 0,
        seed: int = 0,
    ) -> None:
        states = frozenset({"OPEN", "MERGED", "DECLINED", "SUPERSEDED"})
        super().__init__(states=states, port=port, seed=seed)
        self.token = token
        self.username = username
        route = self._router.add
        route("GET", "/user", lambda _r: json_response(200, _user(self.username or "Sync Bot")))
        route("GET", r"/repositories/(?P<ws>[^/]+)", self._list_repos)
        route("GET", _REPO, lambda r: json_response(200, self._repo_json(self._repo(r))))
        route("GET", _REPO + "/pullrequests", self._list_prs)
        route("GET", _PR, lambda r: json_response(200, self._pr_json(self._pr(r))))
        route("GET", _PR + "/commits", self._list_commits)
        route("GET", _PR + "/comments", self._list_comments)
        route("POST", _PR + "/comments", self._post_comment)
        route("GET", _REPO + "/refs/branches", self._list_branches)
        route("POST", _REPO + "/refs/branches", self._post_branch)

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

    def _default_retry_after(self, seconds: float) -> int | None:
        return None  # Bitbucket Cloud documents no Retry-After on its 429s.

    def _rate_limit_headers(self, retry_after: int | None) -> list[tuple[str, str]]:
        headers = [
            ("X-RateLimit-Limit", "1000"),
            ("X-RateLimit-Resource", "api-repositories"),
            ("X-RateLimit-NearLimit", "true"),
        ]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return headers

    def _normalize_repo(self, repo: str) -> str:
        return repo.lower()

    def _web_url(self, pr: StoredPullRequest) -> str:
        return f"{self.url}/{pr.repo}/pull-requests/{pr.id}"

    # -- rendering -------------------------------------------------------------

    def _repo_ref(self, repo: StoredRepo) -> dict[str, Any]:
        return {
            "type": "repository",
            "full_name": repo.name,
            "name": repo.slug,
            "uuid": "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, repo.name)) + "}",
            "links": {
                "self": {"href": f"{self.url}/2.0/repositories/{repo.name}"},
                "html": {"href": f"{self.url}/{repo.name}"},
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

    def _side(self, repo: StoredRepo, branch: str) -> dict[str, Any]:
        return {
            "branch": {"name": branch},
            "commit": {"hash": repo.branches.get(branch, "0" * 40)[:12]},
            "repository": self._repo_ref(repo),
        }

    def _pr_json(self, pr: StoredPullRequest) -> dict[str, Any]:
        repo = self._bb.repos[pr.repo]
        api = f"{self.url}/2.0/repositories/{pr.repo}/pullrequests/{pr.id}"
        return {
            "type": "pullrequest",
            "id": pr.id,
            "title": pr.title,
            "description": pr.description,
            "summary": {"raw": pr.description, "markup": "markdown", "html": ""},
            "state": pr.state,
            "author": _user(pr.author),
            "source": self._side(repo, pr.source_branch),
            "destination": self._side(repo, pr.destination_branch),
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

    def _list_commits(self, request: Request) -> Response:
        pr = self._pr(request)
        values = [
            {
                "type": "commit",
                "hash": commit.hash,
                "message": commit.message,
                "date": _iso(commit.date),
                "author": {"type": "author", "raw": f"{pr.author} <{pr.author.lower()}@example.com>"},
                "links": {"self": {"href": f"{self.url}/2.0/repositories/{pr.repo}/commit/{commit.hash}"}},
            }
            for commit in reversed(pr.commits)  # newest first, as the product lists them
        ]
        return self._page(request, values)

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
            "links": {"html": {"href": f"{self.url}/{repo.name}/branch/{name}"}},
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
