"""The token never follows a redirect to another host; the token types are checked statically too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jirabucket.clients import JiraApi, JiraClient
from jirabucket.tokens import BitbucketToken, JiraToken

SECRET = "redirect-secret-0001"


class _Recorder(ThreadingHTTPServer):
    """A loopback server that records each request's path and Authorization header."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []
        self.redirect_to: str | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        if self.path.endswith("/myself") and self.server.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.server.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"name": "bot", "displayName": "Bot"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[_Recorder, _Recorder]]:
    first, second = _Recorder(), _Recorder()
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        for s in (first, second)
    ]
    for thread in threads:
        thread.start()
    yield first, second
    for server in (first, second):
        server.shutdown()
        server.server_close()


def test_redirect_to_another_host_drops_the_token(servers: tuple[_Recorder, _Recorder]) -> None:
    first, second = servers
    # 127.0.0.1 and localhost are different hosts to requests' should_strip_auth.
    first.redirect_to = f"http://localhost:{second.port}/rest/api/2/elsewhere"
    api = JiraApi(f"http://127.0.0.1:{first.port}", JiraToken(SECRET), flavor="datacenter")
    assert api.myself().display_name == "Bot"
    assert first.seen == [("/rest/api/2/myself", f"Bearer {SECRET}")]
    assert second.seen == [("/rest/api/2/elsewhere", None)]


def test_redirect_within_the_host_keeps_the_token(servers: tuple[_Recorder, _Recorder]) -> None:
    first, _ = servers
    first.redirect_to = f"http://127.0.0.1:{first.port}/rest/api/2/elsewhere"
    api = JiraApi(f"http://127.0.0.1:{first.port}", JiraToken(SECRET), flavor="datacenter")
    api.myself()
    assert [auth for _, auth in first.seen] == [f"Bearer {SECRET}"] * 2


def test_runtime_rejects_the_other_token_type() -> None:
    with pytest.raises(TypeError, match="JiraClient needs a JiraToken, got a BitbucketToken"):
        JiraClient("https://acme.atlassian.net", BitbucketToken("x" * 20))  # type: ignore[arg-type]
