"""Serve the webhook app over real HTTP against a sync world, and deliver to it as Bitbucket does.

Payloads follow Atlassian's "Event payloads" pages (Cloud: top-level
``repository.full_name`` and ``pullrequest.id``; Data Center:
``pullRequest.toRef.repository`` with ``project.key`` and ``slug``), with the
surrounding fields a real delivery carries, some deliberately wrong (titles,
branches) to show they are never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from jirabucket.webhooks import WebhookApp, WebhookSecret, WebhookServer, create_app
from syncworld import Flavor, World, make_world

SECRET = "whsec-Q7f3k9LmP2x8Rv"
_PR_PATH = re.compile(r"/(pullrequests|pull-requests)/\d+$")


@contextlib.contextmanager
def empty_world(tmp_path: Path, flavor: Flavor = "cloud") -> Iterator[World]:
    """Simulators with the configured repositories (``acme/api``, ``acme/web`` or ``ACME/…``) and no PRs."""
    with make_world(tmp_path, flavor=flavor, prs=0) as world:
        for repo in world.settings().bitbucket.repositories:
            world.bitbucket.add_repository(repo)
        yield world


def sign(body: bytes, secret: str = SECRET, algorithm: str = "sha256") -> str:
    """``X-Hub-Signature`` as Bitbucket computes it (computed here independently of the app)."""
    return f"{algorithm}=" + hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()


def wait_for(condition: Callable[[], object], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.01)


def pr_reads(world: World, pr_id: int | None = None) -> int:
    """How many times the sync re-read a pull request by id from Bitbucket (one per pull-request sync)."""
    return sum(
        1 for r in world.bitbucket.requests
        if r.method == "GET" and _PR_PATH.search(r.path) and (pr_id is None or r.path.endswith(f"/{pr_id}"))
    )


def cloud_payload(repo: str, pr_id: int, *, title: str = "ABC-999 not what Bitbucket says") -> dict[str, Any]:
    """A Bitbucket Cloud pull-request event body."""
    workspace, slug = repo.split("/")
    repository = {
        "type": "repository", "full_name": repo, "name": slug, "uuid": "{0c7e1a4e-2f4b-4f7a-9e7d-5a1b2c3d4e5f}",
        "links": {"html": {"href": f"https://bitbucket.org/{repo}"}},
        "workspace": {"type": "workspace", "slug": workspace},
    }
    return {
        "actor": {"type": "user", "display_name": "Alice", "account_id": "5b10a2844c20165700ede21g"},
        "repository": repository,
        "pullrequest": {
            "type": "pullrequest", "id": pr_id, "title": title, "description": "", "state": "OPEN",
            "source": {"branch": {"name": "feature/ABC-998-stale"}, "repository": repository},
            "destination": {"branch": {"name": "main"}, "repository": repository},
            "links": {"html": {"href": f"https://bitbucket.org/{repo}/pull-requests/{pr_id}"}},
            "created_on": "2025-01-01T10:00:00.000000+00:00", "updated_on": "2025-01-01T10:00:00.000000+00:00",
        },
    }


def dc_payload(repo: str, pr_id: int, event: str = "pr:opened") -> dict[str, Any]:
    """A Bitbucket Data Center pull-request event body."""
    key, slug = repo.split("/")
    repository = {
        "slug": slug, "id": 84, "name": slug, "scmId": "git", "state": "AVAILABLE",
        "project": {"key": key, "id": 84, "name": "Acme", "public": False, "type": "NORMAL"},
        "public": False,
    }
    return {
        "eventKey": event,
        "date": "2025-01-01T10:00:00+1000",
        "actor": {"name": "admin", "emailAddress": "admin@example.com", "id": 1, "slug": "admin", "type": "NORMAL"},
        "pullRequest": {
            "id": pr_id, "version": 0, "title": "ABC-999 not what Bitbucket says", "state": "OPEN",
            "open": True, "closed": False,
            "fromRef": {"id": "refs/heads/feature/ABC-998", "displayId": "feature/ABC-998",
                        "latestCommit": "ef8755f06ee4b28c96a847a95cb8ec8ed6ddd1ca", "repository": repository},
            "toRef": {"id": "refs/heads/main", "displayId": "main",
                      "latestCommit": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc", "repository": repository},
        },
    }


def _loopback_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy to look up in the environment on every request: loopback
    return session


@dataclass
class Deliverer:
    """Posts deliveries to a running server as Bitbucket would."""

    url: str
    flavor: str = "cloud"
    secret: str = SECRET
    session: requests.Session = field(default_factory=_loopback_session)

    def post(
        self,
        event: str,
        payload: object,
        *,
        delivery: str | None = None,
        signature: str | Callable[[bytes], str] | None = sign,
        body: bytes | None = None,
    ) -> requests.Response:
        """POST one delivery; ``signature=None`` sends no header, a string sends that header."""
        raw = json.dumps(payload).encode() if body is None else body
        headers = {"Content-Type": "application/json", "X-Event-Key": event, "User-Agent": "Bitbucket-Webhooks/2.0"}
        id_header = "X-Request-UUID" if self.flavor == "cloud" else "X-Request-Id"
        headers[id_header] = delivery or str(uuid.uuid4())
        if self.flavor == "cloud":
            headers["X-Attempt-Number"] = "1"
        if callable(signature):
            headers["X-Hub-Signature"] = signature(raw)
        elif signature is not None:
            headers["X-Hub-Signature"] = signature
        return self.session.post(f"{self.url}/webhooks/bitbucket", data=raw, headers=headers, timeout=10)

    def pull_request_event(self, repo: str, pr_id: int, *, delivery: str | None = None) -> requests.Response:
        """The flavor's "pull request updated" delivery for ``repo#pr_id``."""
        if self.flavor == "cloud":
            return self.post("pullrequest:updated", cloud_payload(repo, pr_id), delivery=delivery)
        return self.post("pr:modified", dc_payload(repo, pr_id, "pr:modified"), delivery=delivery)

    def health(self) -> dict[str, Any]:
        """GET /healthz."""
        answer = self.session.get(f"{self.url}/healthz", timeout=10)
        assert answer.status_code == 200, answer.text
        doc: dict[str, Any] = answer.json()
        return doc


@dataclass
class Served:
    """The app served by waitress in a thread of the test process."""

    app: WebhookApp
    server: WebhookServer
    deliver: Deliverer


@contextlib.contextmanager
def serving(world: World, *, window: float | None = 0.05, reconcile_every: float = 0.0) -> Iterator[Served]:
    """Open the app on ``world`` and serve it on a free loopback port until the block ends.

    ``window=None`` takes the coalescing window from the settings (``[serve] coalesce_window``).
    """
    app = create_app(
        world.settings(), secret=WebhookSecret(SECRET), jira_token=world.jira_token(),
        bitbucket_token=world.bitbucket_token(), reconcile_every=reconcile_every, coalesce_window=window,
    )
    try:
        server = WebhookServer(app, host="127.0.0.1", port=0)
        crashed: list[BaseException] = []

        def serve() -> None:
            try:
                server.serve()
            except BaseException as exc:
                crashed.append(exc)
                raise

        thread = threading.Thread(target=serve, name="test-waitress", daemon=True)
        thread.start()
        try:
            yield Served(app, server, Deliverer(server.url, flavor=world.flavor))
        finally:
            assert not crashed, crashed
            server.stop()
            thread.join(timeout=15)
            assert not thread.is_alive()
    finally:
        app.close()


class ServeProcess:
    """``python -m jirabucket serve`` in a subprocess, its stderr collected by a thread."""

    def __init__(self, world: World, *args: str, secret: str | None = SECRET, extra_env: dict[str, str] | None = None):
        env = {**os.environ, **world.env, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
        env.pop("JIRABUCKET_WEBHOOK_SECRET_FILE", None)
        env.pop("JIRABUCKET_WEBHOOK_SECRET", None)
        if secret is not None:
            env["JIRABUCKET_WEBHOOK_SECRET"] = secret
        env.update(extra_env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jirabucket", "serve", "--port", "0", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.flavor = world.flavor

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr so far."""
        return "".join(self.lines)

    def deliverer(self, timeout: float = 30.0) -> Deliverer:
        """Wait for the "listening on" line and return a deliverer for that address."""
        found: list[str] = []

        def listening() -> bool:
            match = re.search(r"listening on (http://\S+?)/webhooks/bitbucket", self.stderr)
            if match:
                found.append(match.group(1))
            assert self.proc.poll() is None or found, f"serve exited {self.proc.returncode}: {self.stderr}"
            return bool(found)

        wait_for(listening, timeout=timeout, what="serve listening")
        return Deliverer(found[0], flavor=self.flavor)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to end; return its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """SIGKILL the process if it still runs, and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()
