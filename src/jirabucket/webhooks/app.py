"""The WSGI application: ``POST /webhooks/bitbucket`` takes deliveries in, ``GET /healthz`` says how it goes.

A delivery is answered at once: 202 after the pull request it names is
recorded durably (the sync runs later, in the dispatcher's thread), 2xx for
what is ignored, 4xx for what is refused. Each gets one log line — event,
repository, pull request, outcome, status, duration — and never a secret.

:func:`create_app` opens everything (the sync session with its lock, queue,
journal and clients; the inbox; the dispatcher) and returns the application;
``jirabucket serve`` runs it on waitress, and any WSGI server can run it
(``gunicorn -w 1 'jirabucket.webhooks:create_app()'``: one process, as the
state directory's lock admits only one).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from jirabucket.config import Settings, load_settings
from jirabucket.errors import StateError
from jirabucket.sync import SyncSession
from jirabucket.tokens import BitbucketToken, JiraToken
from jirabucket.webhooks.dispatcher import Dispatcher
from jirabucket.webhooks.events import PayloadError, configured_repository, read_event
from jirabucket.webhooks.inbox import Inbox
from jirabucket.webhooks.secret import Signature, WebhookSecret

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

__all__ = [
    "DEFAULT_RECONCILE_EVERY",
    "HEALTH_PATH",
    "MAX_BODY",
    "WEBHOOK_PATH",
    "WebhookApp",
    "create_app",
]

WEBHOOK_PATH = "/webhooks/bitbucket"
HEALTH_PATH = "/healthz"
#: The largest body taken in (Bitbucket Cloud sends at most 256 KB).
MAX_BODY = 1024 * 1024
#: Seconds between reconciles unless told otherwise (15 minutes).
DEFAULT_RECONCILE_EVERY = 900.0
_SHUTDOWN_GRACE = 10.0  # seconds the sync in flight may take to finish at shutdown
_ABANDON_GRACE = 2.0  # seconds for it to give up once the queue is closed under it
_MAX_LOGGED = 100  # characters of a header value that go into a log line

_log = logging.getLogger("jirabucket.webhooks")
_REASONS = {
    200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 413: "Content Too Large", 503: "Service Unavailable",
}


class _Abandoned(KeyboardInterrupt):
    """Raised through the sync session at shutdown so it closes as after Ctrl-C: at once, work kept."""


@dataclass(frozen=True, slots=True)
class _Delivery:
    """What is known of a delivery so far, for its answer and its log line."""

    event: str
    delivery: str
    repository: str = "-"
    pull_request: int | None = None

    def ends(self, status: int, outcome: str, *, allow: str | None = None) -> _Outcome:
        """The delivery's answer."""
        return _Outcome(status, outcome, self, allow)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """How one delivery ended: the answer, and what its log line says."""

    status: int
    outcome: str
    about: _Delivery
    allow: str | None = None


@dataclass(frozen=True, slots=True)
class _Payload:
    """A signed body, parsed."""

    payload: object


class WebhookApp:
    """The WSGI application (a callable), with :meth:`health` and :meth:`close`.

    Built by :func:`create_app`; the arguments are its parts.

    Args:
        secret: The webhook secret deliveries are signed with.
        repositories: ``[bitbucket] repositories``; deliveries for others are ignored.
        inbox: Where accepted deliveries are recorded.
        dispatcher: The thread that syncs them.
        window: Seconds a pull request waits for more deliveries before its sync.
        queue_depth: Tasks in the queue now (pending and in flight).
        shutdown: Stops the dispatcher and closes what the app opened, within the given seconds.
        shutdown_grace: Seconds :meth:`close` gives the sync in flight unless told otherwise.
    """

    def __init__(
        self,
        *,
        secret: WebhookSecret,
        repositories: Sequence[str],
        inbox: Inbox,
        dispatcher: Dispatcher,
        window: float,
        queue_depth: Callable[[], int],
        shutdown: Callable[[float], None],
        shutdown_grace: float = _SHUTDOWN_GRACE,
    ) -> None:
        self._secret = secret
        self._repositories = tuple(repositories)
        self._inbox = inbox
        self._dispatcher = dispatcher
        self._window = window
        self._queue_depth = queue_depth
        self._shutdown = shutdown
        self._grace = shutdown_grace
        self._closed = threading.Event()
        self._closing = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request (PEP 3333)."""
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == WEBHOOK_PATH:
            started = time.monotonic()
            outcome = self._delivery(environ, method)
            _log_delivery(outcome, environ, time.monotonic() - started)
            body: dict[str, Any] = {"outcome": outcome.outcome}
            if outcome.about.pull_request is not None:
                body.update(repository=outcome.about.repository, pull_request=outcome.about.pull_request)
            return _answer(start_response, outcome.status, body, allow=outcome.allow)
        if path == HEALTH_PATH:
            if method not in ("GET", "HEAD"):
                return _answer(start_response, 405, {"outcome": "method not allowed"}, allow="GET, HEAD")
            status, doc = self.health()
            return _answer(start_response, status, doc, head=method == "HEAD")
        return _answer(start_response, 404, {"outcome": "not found"})

    def health(self) -> tuple[int, dict[str, Any]]:
        """Return the status code and body of ``GET /healthz``.

        200 with ``status: "ok"`` while the dispatcher runs and the inbox can be read; else 503.
        """
        if self._closed.is_set():
            return 503, {"status": "stopped"}
        state = self._dispatcher.status()
        doc: dict[str, Any] = {
            "status": "ok",
            "queue_depth": self._queue_depth(),
            "pull_request_syncs": state.pull_request_syncs,
            "reconciles": state.reconciles,
            "last_reconcile": _iso(state.last_reconcile),
            "last_error": state.last_error,
            "last_error_at": _iso(state.last_error_at),
        }
        try:
            doc["pending_pull_requests"] = self._inbox.pending()
        except StateError as exc:
            doc.update(status="degraded", pending_pull_requests=None, last_error=str(exc))
        if not state.running:
            doc["status"] = "stopped"
        return (200 if doc["status"] == "ok" else 503), doc

    def close(self, *, grace: float | None = None) -> None:
        """Stop syncing and close everything; the sync in flight gets ``grace`` seconds to finish.

        ``grace`` defaults to ``[serve] shutdown_grace`` (10 s).

        What is not finished stays recorded and is synced on the next start. Idempotent.
        """
        with self._closing:
            if self._closed.is_set():
                return
            self._closed.set()
        atexit.unregister(self.close)
        self._shutdown(self._grace if grace is None else grace)

    def _delivery(self, environ: WSGIEnvironment, method: str) -> _Outcome:
        event = _header(environ, "HTTP_X_EVENT_KEY")
        delivery = _header(environ, "HTTP_X_REQUEST_UUID") or _header(environ, "HTTP_X_REQUEST_ID")
        seen = _Delivery(event or "-", delivery or "-")
        admitted = self._admit(environ, method, seen)
        if isinstance(admitted, _Outcome):
            return admitted
        return self._take(event or "", admitted.payload, delivery, seen)

    def _admit(self, environ: WSGIEnvironment, method: str, seen: _Delivery) -> _Outcome | _Payload:
        """The request's method, size, signature and JSON, checked in that order: nothing is parsed unsigned."""
        if method != "POST":
            return seen.ends(405, "method not allowed", allow="POST")
        if self._closed.is_set():
            return seen.ends(503, "shutting down")
        body = _read_body(environ)
        if body is None:
            return seen.ends(413, "body too large")
        # Atlassian documents X-Hub-Signature; some say Cloud sends X-Hub-Signature-256 (same value): read either.
        signature = environ.get("HTTP_X_HUB_SIGNATURE") or environ.get("HTTP_X_HUB_SIGNATURE_256")
        check = self._secret.check(body, signature)
        if check is not Signature.VALID:
            return seen.ends(401, f"signature {check.value}")
        try:
            return _Payload(json.loads(body))
        except (ValueError, UnicodeDecodeError):
            return seen.ends(400, "not JSON")

    def _take(self, event: str, payload: object, delivery: str | None, seen: _Delivery) -> _Outcome:
        """Ignore what syncs nothing; record the pull request a signed delivery names."""
        try:
            change = read_event(event, payload)
        except PayloadError as exc:
            return seen.ends(400, str(exc))
        if change is None:
            return seen.ends(200, "ignored: not a pull request event")
        repository = configured_repository(change.repository, self._repositories)
        if repository is None:
            other = dataclasses.replace(
                seen, repository=_printable(change.repository), pull_request=change.pull_request
            )
            return other.ends(200, "ignored: repository not configured")
        found = dataclasses.replace(seen, repository=repository, pull_request=change.pull_request)
        try:
            fresh = self._inbox.record(
                dataclasses.replace(change, repository=repository), delivery_id=delivery, window=self._window
            )
        except StateError as exc:
            _log.error("cannot record a delivery: %s", exc)
            return found.ends(503, "cannot record")  # Bitbucket resends on 5xx
        if not fresh:
            return found.ends(200, "duplicate")
        self._dispatcher.wake()
        return found.ends(202, "accepted")


def create_app(
    settings: Settings | None = None,
    *,
    secret: WebhookSecret | None = None,
    jira_token: JiraToken | None = None,
    bitbucket_token: BitbucketToken | None = None,
    reconcile_every: float = DEFAULT_RECONCILE_EVERY,
    coalesce_window: float | None = None,
) -> WebhookApp:
    """Open the sync session, the inbox and the dispatcher, and return the WSGI application.

    Pull requests an earlier process left pending are synced first, then (unless
    ``reconcile_every`` is 0) every repository incrementally, and again every
    ``reconcile_every`` seconds. Call :meth:`WebhookApp.close` when done (it also
    runs at interpreter exit).

    Args:
        settings: What to sync; :func:`jirabucket.config.load_settings` when ``None``.
        secret: The webhook secret; ``WebhookSecret.from_env()`` when ``None``.
        jira_token: The Jira credential; from the environment when ``None``.
        bitbucket_token: The Bitbucket credential; from the environment when ``None``.
        reconcile_every: Seconds between incremental syncs of every repository; 0 for none.
        coalesce_window: Seconds a pull request waits for more deliveries before its sync;
            ``[serve] coalesce_window`` when ``None``.

    Returns:
        The application, syncing.

    Raises:
        ConfigError: The secret, a token or the settings are missing or wrong.
        StateError, StateLocked, AuthError: As for :func:`jirabucket.sync.sync`.
    """
    secret = WebhookSecret.from_env() if secret is None else secret
    settings = load_settings() if settings is None else settings
    window = settings.serve.coalesce_window if coalesce_window is None else coalesce_window
    if window < 0 or reconcile_every < 0:
        raise ValueError("coalesce_window and reconcile_every must be >= 0")
    session = SyncSession(settings, jira_token=jira_token, bitbucket_token=bitbucket_token, durable=True)
    with contextlib.ExitStack() as opened:
        opened.enter_context(session)
        inbox = Inbox(settings.state_dir)
        opened.callback(inbox.close)
        dispatcher = Dispatcher(session, inbox, reconcile_every=reconcile_every)
        dispatcher.start()
        closing = opened.pop_all()

    def shutdown(grace: float) -> None:
        with contextlib.suppress(_Abandoned), closing:
            if not dispatcher.stop(grace):
                # The sync in flight is still waiting for Jira or Bitbucket: close the queue under it.
                # Its steps stay in the journal and its pull request stays pending for the next start.
                _log.warning("the sync in flight did not finish within %.0f s; leaving it for the next start", grace)
                session.runtime.queue.close(timeout=0)
                dispatcher.stop(_ABANDON_GRACE)
                raise _Abandoned  # leave the session as an interrupted run does: no drain of what is in flight

    def queue_depth() -> int:
        stats = session.runtime.queue.stats()
        return stats.in_flight + stats.waiting

    app = WebhookApp(
        secret=secret, repositories=settings.bitbucket.repositories, inbox=inbox, dispatcher=dispatcher,
        window=window, queue_depth=queue_depth, shutdown=shutdown,
        shutdown_grace=settings.serve.shutdown_grace,
    )
    atexit.register(app.close)
    return app


def _read_body(environ: WSGIEnvironment) -> bytes | None:
    """Read the body, never more than MAX_BODY + 1 bytes; ``None`` when it is larger than MAX_BODY."""
    raw = environ.get("CONTENT_LENGTH") or ""
    stream: IO[bytes] = environ["wsgi.input"]
    if raw.strip():
        try:
            length = int(raw)
        except ValueError:
            length = MAX_BODY + 1  # a server passes only a valid one; refuse rather than guess
        if length > MAX_BODY:
            return None  # refused before reading a byte
        limit = length
    elif environ.get("wsgi.input_terminated"):
        limit = MAX_BODY + 1  # chunked: read to the end, but never past the cap
    else:
        return b""  # PEP 3333: no CONTENT_LENGTH and no terminated input means no body
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return None if size > MAX_BODY else b"".join(chunks)


def _answer(
    start_response: StartResponse, status: int, doc: Mapping[str, Any], *, allow: str | None = None,
    head: bool = False,
) -> list[bytes]:
    body = json.dumps(doc, sort_keys=True).encode() + b"\n"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if allow is not None:
        headers.append(("Allow", allow))
    start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), headers)
    return [] if head else [body]


def _header(environ: WSGIEnvironment, name: str) -> str | None:
    value = environ.get(name)
    return _printable(value) if isinstance(value, str) and value.strip() else None


def _printable(value: str) -> str:
    """A header value fit for a log line and a key: printable ASCII without spaces or quotes, truncated."""
    kept = "".join(ch if "!" <= ch <= "~" and ch != '"' else "?" for ch in value.strip())
    return kept[:_MAX_LOGGED]


def _log_delivery(outcome: _Outcome, environ: WSGIEnvironment, seconds: float) -> None:
    about = outcome.about
    level = logging.INFO if outcome.status < 400 else logging.ERROR if outcome.status >= 500 else logging.WARNING
    _log.log(
        level,
        'delivery event=%s repository=%s pr=%s outcome="%s" status=%d ms=%.1f id=%s from=%s',
        about.event, about.repository, "-" if about.pull_request is None else about.pull_request,
        outcome.outcome, outcome.status, seconds * 1000, about.delivery,
        _printable(str(environ.get("REMOTE_ADDR", "-"))),
    )


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat(timespec="seconds")
