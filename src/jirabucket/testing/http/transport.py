"""The stdlib HTTP layer: a threading server that can cut its connections, and the handler."""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from jirabucket.testing.http.messages import Response

__all__ = ["HandlerIO", "Server", "handler_class"]


class Dispatcher(Protocol):
    """What the handler hands each parsed request to (the simulator)."""

    def _handle(self, io: HandlerIO) -> None:
        """Answer (or drop) one request."""


class Server(ThreadingHTTPServer):
    """A threading server that remembers open connections so stop() can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out or a connection we reset on purpose is not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def cut_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):  # already closed by its handler thread
                conn.shutdown(socket.SHUT_RDWR)


class HandlerIO(BaseHTTPRequestHandler):
    """The stdlib handler: parses the request, then lets the simulator decide."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, delayed ACKs add ~40 ms each.
    disable_nagle_algorithm = True
    simulator: Dispatcher
    method: str
    query: dict[str, list[str]]
    body: bytes
    authorization: str | None

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        self.method = self.command.upper()
        # "path" shadows the raw request target only after it has been parsed.
        self.query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length > 0 else b""
        self.authorization = self.headers.get("Authorization")
        self.path = parts.path
        self.simulator._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815

    def send(self, response: Response, *, extra: list[tuple[str, str]] | None = None) -> None:
        """Write a whole answer with a Content-Length (keeps the connection usable)."""
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in [*response.headers, *(extra or [])]:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def reset(self) -> None:
        """Drop the connection with a TCP reset and without an answer."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet; the request log records every request."""


def handler_class(simulator: Dispatcher) -> type[HandlerIO]:
    """Return a handler class bound to one simulator."""
    return type("SimulatorHandler", (HandlerIO,), {"simulator": simulator})
