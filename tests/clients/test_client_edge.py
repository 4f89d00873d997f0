"""Unit tests of the HTTP edge with ``responses``: error translation, no hidden retries, URLs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, cast

import pytest
import requests
import responses

from jirabucket.clients import BitbucketApi, BitbucketClient, JiraApi, JiraClient
from jirabucket.errors import (
    AuthError,
    ConfigError,
    NotFound,
    PermanentError,
    RateLimited,
    TransientError,
)
from jirabucket.tokens import BitbucketToken, JiraToken

URL = "https://jira.example.com"
MYSELF = f"{URL}/rest/api/2/myself"
SECRET = "s3cret-token-value-1234"


@pytest.fixture
def api() -> JiraApi:
    return JiraApi(URL, JiraToken(SECRET), flavor="datacenter", timeout=2.5)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFound),
        (410, NotFound),
        (409, PermanentError),
        (429, RateLimited),
        (500, TransientError),
        (502, TransientError),
        (503, TransientError),
        (504, TransientError),
    ],
)
@responses.activate
def test_status_translates_to_error_tree(api: JiraApi, status: int, error: type[Exception]) -> None:
    responses.get(MYSELF, status=status, json={"errorMessages": ["nope"]})
    with pytest.raises(error) as caught:
        api.myself()
    exc = caught.value
    assert type(exc) is error
    assert exc.status == status  # type: ignore[attr-defined]
    assert exc.method == "GET"  # type: ignore[attr-defined]
    assert exc.url == MYSELF  # type: ignore[attr-defined]
    assert "nope" in exc.body  # type: ignore[attr-defined]
    assert str(status) in str(exc)
    assert len(responses.calls) == 1


@responses.activate
def test_429_with_retry_after_returns_at_once_without_sleeping(
    api: JiraApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    # atlassian-python-api would time.sleep(Retry-After) and retry once; it must not.
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"slept {seconds}s inside atlassian-python-api")

    monkeypatch.setattr(time, "sleep", no_sleep)
    responses.get(MYSELF, status=429, headers={"Retry-After": "5"}, json={})
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        api.myself()
    assert caught.value.retry_after == 5.0
    assert len(responses.calls) == 1
    assert api.request_count == 1
    assert time.monotonic() - started < 4.0


@responses.activate
def test_503_retry_after_and_html_body_are_kept(api: JiraApi) -> None:
    page = "<html><body>" + "Service down " * 100 + "</body></html>"
    responses.get(MYSELF, status=503, headers={"Retry-After": "7"}, body=page,
                  content_type="text/html")
    with pytest.raises(TransientError) as caught:
        api.myself()
    assert caught.value.retry_after == 7.0
    assert caught.value.body.startswith("<html><body>Service down")
    assert len(caught.value.body) <= 300


@responses.activate
def test_credentials_echoed_in_a_body_are_masked(api: JiraApi) -> None:
    responses.get(MYSELF, status=400, body=f"bad header Authorization: Bearer {SECRET}")
    with pytest.raises(PermanentError) as caught:
        api.myself()
    assert SECRET not in caught.value.body
    assert SECRET not in str(caught.value)
    assert "Bearer [secure]" in caught.value.body


@pytest.mark.parametrize(
    ("failure", "cause"),
    [
        (requests.ConnectionError("[Errno 111] Connection refused"), "refused (is the server up"),
        (requests.ConnectionError("Failed to resolve 'jira.corp' ([Errno -2] Name or service not known)"),
         "DNS lookup of"),
        (requests.ConnectTimeout("connect timed out"), "could not connect to"),
        (requests.ReadTimeout("read timed out"), "no answer from"),
        (requests.exceptions.ChunkedEncodingError("broken"), "reset before the answer came"),
        (requests.ConnectionError("Connection aborted: ConnectionResetError(104, 'Connection reset by peer')"),
         "reset before the answer came"),
    ],
)
@responses.activate
def test_network_failures_are_transient_and_name_host_and_cause(
    api: JiraApi, failure: Exception, cause: str
) -> None:
    responses.get(MYSELF, body=failure)
    with pytest.raises(TransientError) as caught:
        api.myself()
    assert caught.value.status is None
    assert caught.value.method == "GET"
    assert cause in str(caught.value)
    assert "/rest/api/" in str(caught.value)


def test_connection_refused_on_a_real_socket_names_the_host() -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = JiraApi(f"http://127.0.0.1:{port}", JiraToken(SECRET), flavor="datacenter", timeout=2)
    with pytest.raises(TransientError) as caught:
        api.myself()
    assert f"connection to 127.0.0.1:{port} refused" in str(caught.value)
    api.close()


@responses.activate
def test_a_tls_failure_is_permanent_and_says_so(api: JiraApi) -> None:
    responses.get(MYSELF, body=requests.exceptions.SSLError("certificate verify failed: self-signed certificate"))
    with pytest.raises(PermanentError) as caught:
        api.myself()
    assert "TLS error talking to" in str(caught.value) and "certificate verify failed" in str(caught.value)


@responses.activate
def test_every_request_carries_the_float_timeout_and_verifies_tls(api: JiraApi) -> None:
    responses.get(MYSELF, json={"name": "bot", "displayName": "Bot"})
    api.myself()
    kwargs = cast(Any, responses.calls[0].request).req_kwargs
    assert kwargs["timeout"] == 2.5  # atlassian-python-api alone would make it int(2.5) == 2
    # True, or a CA bundle path when REQUESTS_CA_BUNDLE is set: verification either way.
    assert kwargs["verify"] is True or isinstance(kwargs["verify"], str)


@responses.activate
def test_proxy_and_ca_bundle_are_read_from_the_environment_once_per_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "corporate-ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "bitbucket.example.com")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    responses.get(MYSELF, json={"name": "bot", "displayName": "Bot"})
    responses.get("https://bitbucket.example.com/rest/api/1.0/users/bot", json={"name": "bot"})
    jira = JiraApi(URL, JiraToken(SECRET), flavor="datacenter")
    bitbucket = BitbucketApi("https://bitbucket.example.com", BitbucketToken(SECRET), flavor="datacenter")
    monkeypatch.delenv("HTTPS_PROXY")  # read when the client was made, not per request
    jira.myself()
    bitbucket._call("GET", "rest/api/1.0/users/bot")
    to_jira, to_bitbucket = (cast(Any, call.request).req_kwargs for call in responses.calls)
    assert to_jira["proxies"] == {"https": "http://proxy.internal:3128"}
    assert to_jira["verify"] == str(bundle)
    assert not to_bitbucket["proxies"]  # NO_PROXY names its host
    assert to_bitbucket["verify"] == str(bundle)


@responses.activate
def test_bearer_on_datacenter_basic_with_email_on_cloud() -> None:
    responses.get(MYSELF, json={"name": "bot"})
    responses.get("https://acme.atlassian.net/rest/api/3/myself", json={"accountId": "a1"})
    JiraApi(URL, JiraToken(SECRET)).myself()
    cloud = JiraApi("https://acme.atlassian.net", JiraToken(SECRET, email="me@example.com"))
    assert cloud.flavor == "cloud"
    cloud.myself()
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"
    assert responses.calls[1].request.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize(
    "url",
    [
        "http://jira.example.com",  # plain http to a remote host
        "https://user:pw@jira.example.com",
        "ftp://jira.example.com",
        "https://",
        "https://jira.example.com/?x=1",
    ],
)
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        JiraApi(url, JiraToken(SECRET))


def test_loopback_http_is_allowed() -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"):
        JiraApi(url, JiraToken(SECRET)).close()


def test_wrong_token_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="JiraClient needs a JiraToken, got a BitbucketToken"):
        JiraClient(URL, BitbucketToken(SECRET))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BitbucketClient needs a BitbucketToken, got a JiraToken"):
        BitbucketClient(URL, JiraToken(SECRET))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="JiraApi needs a JiraToken"):
        JiraApi(URL, SECRET)  # type: ignore[arg-type]


def test_flavor_and_key_inference() -> None:
    with JiraClient("https://acme.atlassian.net/", JiraToken(SECRET, email="a@b.c")) as jira:
        assert (jira.flavor, jira.key) == ("cloud", "jira:acme.atlassian.net")
    with JiraClient("https://jira.corp.example:8443/jira", JiraToken(SECRET)) as jira:
        assert (jira.flavor, jira.key) == ("datacenter", "jira:jira.corp.example:8443")
    with BitbucketClient("https://bitbucket.org", BitbucketToken(SECRET)) as bb:
        assert (bb.flavor, bb.key) == ("cloud", "bitbucket:api.bitbucket.org")
    with BitbucketClient("https://git.corp.example", BitbucketToken(SECRET)) as bb:
        assert (bb.flavor, bb.key) == ("datacenter", "bitbucket:git.corp.example")


@pytest.mark.parametrize("repo", ["noslash", "a/b/c", "../x", "ws/..", "ws/", "/slug", "ws/sl ug"])
def test_malformed_repo_is_a_config_error(repo: str) -> None:
    api = BitbucketApi("https://bitbucket.org", BitbucketToken(SECRET))
    with pytest.raises(ConfigError):
        api.branches(repo)
    assert api.request_count == 0


@pytest.mark.parametrize("key", ["abc", "ABC-0", "../ABC-1", "ABC-1/x", ""])
def test_malformed_issue_key_is_a_config_error(api: JiraApi, key: str) -> None:
    with pytest.raises(ConfigError):
        api.remote_links(key)
    assert api.request_count == 0


@responses.activate
def test_cloud_next_link_to_another_origin_is_not_followed() -> None:
    api = BitbucketApi("https://bitbucket.org", BitbucketToken(SECRET))
    base = "https://api.bitbucket.org/2.0/repositories/ws/repo/refs/branches"
    responses.get(base, json={"values": [], "next": "https://evil.example/steal?page=2"})
    with pytest.raises(PermanentError, match="another origin"):
        api.branches("ws/repo")
    assert len(responses.calls) == 1


@responses.activate
def test_cloud_pages_keep_q_state_and_sort_even_if_next_drops_them() -> None:
    from datetime import UTC, datetime

    api = BitbucketApi("https://bitbucket.org", BitbucketToken(SECRET))
    base = "https://api.bitbucket.org/2.0/repositories/ws/repo/pullrequests"
    pr = {"id": 1, "title": "t", "state": "OPEN", "updated_on": "2026-02-01T00:00:00+00:00",
          "source": {"branch": {"name": "f"}}, "destination": {"branch": {"name": "main"}},
          "links": {"html": {"href": "https://bitbucket.org/ws/repo/pull-requests/1"}},
          "author": {"display_name": "A"}}
    responses.get(base, json={"values": [pr], "next": f"{base}?page=2"},
                  match=[responses.matchers.query_param_matcher({"page": "2"}, strict_match=False)])
    responses.get(base, json={"values": [pr], "next": f"{base}?page=2"})
    since = datetime(2026, 1, 1, tzinfo=UTC)
    _, cursor = api.pull_requests_page("ws/repo", updated_since=since)
    assert cursor == f"{base}?page=2"
    page2, _ = api.pull_requests_page("ws/repo", updated_since=since, cursor=cursor)
    assert page2[0].id == 1
    second = cast(Any, responses.calls[1].request).params
    assert second["page"] == "2"
    assert second["q"] == 'updated_on > "2026-01-01T00:00:00+00:00"'
    assert second["sort"] == "-updated_on"
    assert second["pagelen"] == "50"


def test_a_call_waiting_on_the_queue_stops_at_ctrl_c_even_when_a_worker_thread_got_the_signal() -> None:
    # kill(pid, SIGINT) may land in any thread; Python runs the handler in the main thread only
    # when it next runs Python code. Before the call waited in slices, it waited for the answer.
    program = textwrap.dedent(
        """
        import signal, threading, time
        from jirabucket.clients import JiraClient
        from jirabucket.queue import TaskQueue
        from jirabucket.testing import JiraDataCenterSimulator
        from jirabucket.tokens import JiraToken

        with JiraDataCenterSimulator(token="t0k3n") as sim, TaskQueue(workers=2) as q:
            client = JiraClient(sim.url, JiraToken("t0k3n"), flavor="datacenter", queue=q, timeout=60)

            def ctrl_c_into_a_worker():
                while not sim.in_flight:
                    time.sleep(0.01)
                worker = next(t for t in threading.enumerate() if t.name.startswith("jirabucket-worker"))
                signal.pthread_kill(worker.ident, signal.SIGINT)

            threading.Thread(target=ctrl_c_into_a_worker, daemon=True).start()
            started = time.monotonic()
            with sim.hold():  # no answer until the block ends
                try:
                    client.myself()
                except KeyboardInterrupt:
                    print(time.monotonic() - started)
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.strip(), done.stderr
    assert float(done.stdout) < 10, done.stdout
