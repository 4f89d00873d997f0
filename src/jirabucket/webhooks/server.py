"""Serving the application on waitress, with a stop that any thread or a signal handler may call.

waitress's own ``run()`` loops until an exception; :class:`WebhookServer` runs
the same event loop in short turns so that :meth:`WebhookServer.stop` can end it
cleanly: stop accepting (the listening socket closes), let the requests being
handled finish and their answers go out, then close every connection.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server

from jirabucket.webhooks.app import MAX_BODY, WebhookApp

__all__ = ["WebhookServer"]

_TURN = 1.0  # seconds one turn of the event loop may wait for sockets (stop() wakes it sooner)
_HANDLER_GRACE = 3  # seconds requests being handled may take to finish at stop
_FLUSH_GRACE = 1.0  # seconds their answers may take to go out


class WebhookServer:
    """The application on a waitress server, listening from construction.

    Args:
        app: The WSGI application.
        host: Address to listen on (``127.0.0.1``: put a TLS reverse proxy in front).
        port: Port; 0 picks a free one (see :attr:`port`).
        threads: Requests handled at once.

    Raises:
        OSError: The address cannot be listened on (in use, not local, a privileged port).
    """

    def __init__(self, app: WebhookApp, *, host: str, port: int, threads: int = 4) -> None:
        self._map: dict[int, Any] = {}
        server = create_server(
            app, map=self._map, host=host, port=port, threads=threads, ident="jirabucket",
            # Bodies a little over the limit reach the app (a 413 with a log line); larger ones
            # are refused by waitress from the Content-Length, before they are buffered.
            max_request_body_size=MAX_BODY + 64 * 1024,
            channel_timeout=30, clear_untrusted_proxy_headers=True,
            asyncore_use_poll=True,  # poll(), not select(): no limit on descriptor numbers
        )
        if not isinstance(server, BaseWSGIServer):  # one host and port make one server
            raise TypeError(f"waitress made a {type(server).__name__} for one address")
        self._server = server
        self._stopping = threading.Event()
        # stop() pulls the trigger (a write to its pipe) only while it is open: once closed, its fd
        # number may belong to another file. Re-entrant: a signal handler may run inside _close().
        self._trigger_lock = threading.RLock()
        self._trigger_open = True
        self.host = host
        self.port = int(server.getsockname()[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8080``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def serve(self) -> None:
        """Handle requests until :meth:`stop`; then stop accepting, finish what runs and close."""
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=_TURN, use_poll=True, map=self._map, count=1)
        finally:
            self._close()

    def stop(self) -> None:
        """Make :meth:`serve` return soon; safe from any thread and from a signal handler."""
        self._stopping.set()
        with self._trigger_lock:
            if self._trigger_open:
                self._server.pull_trigger()  # wakes the event loop's poll

    def _close(self) -> None:
        with self._trigger_lock:
            self._trigger_open = False
        wasyncore.dispatcher.close(self._server)  # the listening socket only: nothing new is accepted
        self._server.task_dispatcher.shutdown(timeout=_HANDLER_GRACE)
        deadline = time.monotonic() + _FLUSH_GRACE
        while time.monotonic() < deadline and any(
            isinstance(ch, HTTPChannel) and ch.total_outbufs_len for ch in list(self._map.values())
        ):
            wasyncore.loop(timeout=0.05, use_poll=True, map=self._map, count=1)
        wasyncore.close_all(self._map)
