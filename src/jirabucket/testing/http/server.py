"""The HTTP plumbing every simulator shares: server, auth parsing, faults, request log."""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import EllipsisType, TracebackType
from typing import Literal, Self

from jirabucket.testing.clock import Clock
from jirabucket.testing.faults import WRITE_METHODS, Faults, RequestRecord, draw_fault
from jirabucket.testing.http.messages import BadRequest, Credentials, Request, Response, text_response
from jirabucket.testing.http.routing import Router
from jirabucket.testing.http.transport import HandlerIO, Server, handler_class
from jirabucket.testing.ratelimit import Admission

__all__ = ["Credentials", "SimulatorBase"]

_PROXY_503 = (
    "<html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


def _parse_authorization(header: str | None) -> Credentials | None:
    if not header:
        return None
    kind, _, value = header.strip().partition(" ")
    if kind.lower() == "bearer":
        return Credentials("bearer", "", value.strip())
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return Credentials("basic", "", "")
    user, _, secret = decoded.partition(":")
    return Credentials("basic", user, secret)


class SimulatorBase(ABC):
    """An in-process HTTP server on 127.0.0.1 with state, faults and a request log.

    Subclasses add routes to ``self._router`` and describe the product's auth and
    error shapes. Handlers run under ``self._lock`` so state stays consistent.

    Args:
        port: TCP port; 0 picks a free one.
        seed: Seed of the fault generator.
        clock: The clock of time windows (429 windows, request budgets);
            :func:`time.monotonic` unless given (see :mod:`jirabucket.testing.clock`).
    """

    _prefixes: tuple[str, ...] = ("",)

    def __init__(self, *, port: int = 0, seed: int = 0, clock: Clock | None = None) -> None:
        self._port = port
        self._clock: Clock = clock or time.monotonic
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._faults = Faults()
        self._rate_limit_until = 0.0
        self._rate_limit_retry_after: int | None = None
        self._rate_limit_pending: float | None = None  # a window that opens with the next request
        self._records: list[RequestRecord] = []
        self._router = Router(self._prefixes)
        self._server: Server | None = None
        # What answers put in their links; kept after stop(): a slow answer may still be going out.
        self._base_url = ""
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._in_flight = 0  # requests read and not yet answered (guarded by _lock)
        self._open = threading.Event()  # cleared while hold() holds the answers
        self._open.set()

    # -- product hooks -------------------------------------------------------

    @abstractmethod
    def _credentials_ok(self, credentials: Credentials) -> bool:
        """Return whether these credentials are the simulator's."""

    @abstractmethod
    def _error(self, status: int, message: str, field_errors: dict[str, str]) -> Response:
        """Return an error answer in the product's shape."""

    def _auth_failure(self, credentials: Credentials | None) -> Response:
        """Return the answer to missing or wrong credentials (401 unless overridden)."""
        return self._error(401, "Authentication failed. Please check your credentials.", {})

    def _rate_limit_headers(self, retry_after: int | None, credentials: Credentials | None) -> list[tuple[str, str]]:
        """Return the headers of a 429 answer."""
        headers = [("X-RateLimit-Limit", "100"), ("X-RateLimit-Remaining", "0")]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return headers

    def _default_retry_after(self, seconds: float) -> int | None:
        """Return the Retry-After a 429 window sends unless told otherwise."""
        return max(1, math.ceil(seconds))

    def _extra_headers(self, credentials_ok: bool) -> list[tuple[str, str]]:
        """Return headers added to every answer (none unless overridden)."""
        return []

    def _admit(self, path: str, credentials: Credentials | None, now: float) -> Admission | None:
        """Count an authenticated request against a request budget; ``None`` when none applies.

        Called under the lock, for requests with valid credentials only.
        """
        return None

    def _admission_headers(self, credentials: Credentials | None, admission: Admission) -> list[tuple[str, str]]:
        """Return the headers a budgeted answer carries (none unless overridden)."""
        return []

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> Self:
        """Start serving on 127.0.0.1 in a background thread.

        Returns:
            The simulator itself.

        Raises:
            RuntimeError: It is already running.
        """
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._stopping.clear()
        self._server = Server(("127.0.0.1", self._port), handler_class(self))
        self._base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one interval
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and end pending slow answers."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        self._open.set()  # held requests are let go (and dropped, see _handle)
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT`` (no trailing slash).

        Raises:
            RuntimeError: The simulator is not running.
        """
        if self._server is None:
            raise RuntimeError("the simulator is not running; call start() or use `with`")
        return self._base_url

    # -- faults and inspection -----------------------------------------------

    @property
    def faults(self) -> Faults:
        """The fault settings in force."""
        with self._lock:
            return self._faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the fault settings; takes effect with the next request."""
        with self._lock:
            self._faults = faults

    def rate_limit(
        self, seconds: float, *, retry_after: int | EllipsisType | None = ...,
        starting: Literal["now", "next_request"] = "now",
    ) -> None:
        """Answer every request 429 for ``seconds``.

        Args:
            seconds: Length of the window.
            retry_after: The ``Retry-After`` value to send; ``None`` sends none;
                left out, the product's habit (see the subclass).
            starting: ``"now"``, or ``"next_request"``: the window opens with the next
                request, however long the client takes to send it (a test of a short window
                then does not depend on how fast the machine starts the code under test).
        """
        with self._lock:
            if starting == "next_request":
                self._rate_limit_pending = seconds
            else:
                self._rate_limit_until = self._clock() + seconds
                self._rate_limit_pending = None
            self._rate_limit_retry_after = self._default_retry_after(seconds) if retry_after is ... else retry_after

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold every request until the block ends: read, then kept waiting, unapplied.

        For tests of what happens while a call is under way (a second process
        meeting the lock, a shutdown in the middle of a call): wait for
        :attr:`in_flight` to reach the count you need, act, leave the block.
        Requests still held when the simulator stops are dropped unanswered.
        """
        self._open.clear()
        try:
            yield
        finally:
            self._open.set()

    @property
    def in_flight(self) -> int:
        """Requests being handled now: read, and not finished (held, slow, or being answered).

        A request counts until just after its answer is sent, so a client may see its
        answer a moment before this drops.
        """
        with self._lock:
            return self._in_flight

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._records.clear()

    # -- request processing ----------------------------------------------------

    def _handle(self, io: HandlerIO) -> None:
        with self._lock:
            self._in_flight += 1
        try:
            self._open.wait()
            if self._stopping.is_set():
                io.reset()
                return
            self._answer(io)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, io: HandlerIO) -> None:
        creds = _parse_authorization(io.authorization)
        auth_ok = creds is not None and self._credentials_ok(creds)
        with self._lock:
            faults = self._faults
            fault = draw_fault(faults, self._rng, method=io.method)
            html_503 = fault == "error" and self._rng.random() < 0.5
            now = self._clock()
            if self._rate_limit_pending is not None:
                self._rate_limit_until, self._rate_limit_pending = now + self._rate_limit_pending, None
            limited = now < self._rate_limit_until
            retry_after = self._rate_limit_retry_after
            reaches_product = fault not in ("reset", "error") and not limited
            admission = self._admit(io.path, creds, now) if reaches_product and auth_ok else None
        if faults.latency and faults.applies_to(io.method):
            self._stopping.wait(faults.latency)
        if fault == "reset":
            self._record(io, 0, creds, auth_ok, fault)
            io.reset()
            return
        if fault == "error":
            self._record(io, 503, creds, auth_ok, fault)
            io.send(self._service_unavailable(html=html_503))
            return
        if limited:
            self._record(io, 429, creds, auth_ok, "rate_limit")
            io.send(self._too_many_requests(retry_after, creds))
            return
        if admission is not None and not admission.allowed:
            self._record(io, 429, creds, auth_ok, "rate_limit")
            io.send(self._too_many_requests(None, creds))
            return
        budget_headers = self._admission_headers(creds, admission) if admission is not None else []
        response = self._respond(io, creds, auth_ok)
        if fault == "reset_after_write":
            self._record(io, 0, creds, auth_ok, fault)
            io.reset()
            return
        if fault == "slow":
            self._stopping.wait(faults.slow_seconds)
        self._record(io, response.status, creds, auth_ok, fault)
        io.send(response, extra=self._extra_headers(auth_ok) + budget_headers)

    def _respond(self, io: HandlerIO, creds: Credentials | None, auth_ok: bool) -> Response:
        if not auth_ok:
            return self._auth_failure(creds)
        found = self._router.match(io.method, io.path)
        if found is None:
            return self._error(404, f"No resource at {io.path}.", {})
        handler, params = found
        request = Request(io.method, io.path, io.query, params, io.body, self._base_url, creds)
        try:
            with self._lock:
                return handler(request)
        except BadRequest as exc:
            return self._refusal(exc)

    def _refusal(self, exc: BadRequest) -> Response:
        """Return the answer to a refused request (the product's error shape for its status)."""
        return self._error(exc.status, exc.message, exc.field_errors)

    def _service_unavailable(self, *, html: bool) -> Response:
        if html:
            return text_response(503, _PROXY_503, content_type="text/html")
        return self._error(503, "Service temporarily unavailable.", {})

    def _too_many_requests(self, retry_after: int | None, credentials: Credentials | None) -> Response:
        """Return a 429 answer (the product's error shape unless overridden)."""
        base = self._error(429, "Rate limit exceeded.", {})
        headers = base.headers + tuple(self._rate_limit_headers(retry_after, credentials))
        return Response(429, base.body, base.content_type, headers)

    def _record(
        self,
        io: HandlerIO,
        status: int,
        creds: Credentials | None,
        auth_ok: bool,
        fault: str | None,
    ) -> None:
        record = RequestRecord(
            method=io.method,
            path=io.path,
            query=io.query,
            status=status,
            auth_scheme=creds.scheme if creds else None,
            auth_ok=auth_ok,
            fault=fault,
            is_write=io.method in WRITE_METHODS,
        )
        with self._lock:
            self._records.append(record)
