"""``jirabucket serve``: take Bitbucket webhooks in on waitress and keep Jira updated within seconds.

Checked before listening, each a one-line error and exit 2: the duration, the
port, the webhook secret (``JIRABUCKET_WEBHOOK_SECRET`` / ``_FILE``), the
settings and the tokens; then the sync session opens (the state directory's
lock, the journal, both tokens proved). SIGTERM or Ctrl-C stops accepting,
lets the sync in flight finish (or leaves it for the next start) and exits 0;
a second signal stops at once.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from jirabucket.cli.main import EXIT_OK
from jirabucket.config import load_settings
from jirabucket.errors import ConfigError
from jirabucket.tokens import BitbucketToken, JiraToken
from jirabucket.webhooks import HEALTH_PATH, WEBHOOK_PATH, WebhookSecret, WebhookServer, create_app

__all__ = ["parse_duration", "run"]

_log = logging.getLogger("jirabucket.webhooks")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
_MIN_PERIOD, _MAX_PERIOD = 1.0, 7 * 24 * 3600.0


def parse_duration(text: str, *, option: str = "--reconcile-every") -> float:
    """Parse ``30s``, ``15m``, ``1h`` or a number of seconds; ``0`` means off.

    Args:
        text: What was given.
        option: The option's name, for the message.

    Returns:
        Seconds: 0, or from 1 second to 7 days.

    Raises:
        ConfigError: Not a duration, or out of bounds.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ConfigError(f"{option} must be a duration such as 30s, 15m or 1h (0: off), got {text!r}")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds != 0 and not _MIN_PERIOD <= seconds <= _MAX_PERIOD:
        raise ConfigError(f"{option} must be 0 (off) or from 1s to 168h, got {text!r}")
    return seconds


def run(args: argparse.Namespace) -> int:
    """Run ``jirabucket serve`` until SIGTERM or Ctrl-C."""
    every = parse_duration(args.reconcile_every)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be from 0 to 65535, got {args.port}")
    secret = WebhookSecret.from_env()
    settings = load_settings(config_path=args.config)
    jira_token, bitbucket_token = JiraToken.from_env(), BitbucketToken.from_env()
    level = _log.level
    _log.setLevel(logging.DEBUG if args.verbose else logging.INFO)  # one line per delivery, -v or not
    try:
        app = create_app(
            settings, secret=secret, jira_token=jira_token, bitbucket_token=bitbucket_token, reconcile_every=every
        )
        try:
            try:
                server = WebhookServer(app, host=args.host, port=args.port)
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                raise ConfigError(
                    f"cannot listen on {args.host}:{args.port} ({reason}): choose another --host or --port"
                ) from None
            _log.info(
                "listening on %s%s (health: %s%s); reconcile %s; %d repositories",
                server.url, WEBHOOK_PATH, server.url, HEALTH_PATH,
                f"every {args.reconcile_every}" if every else "off", len(settings.bitbucket.repositories),
            )
            with _stop_on_signal(server):
                server.serve()
            _log.info("stopped accepting; finishing the sync in flight")
        finally:
            app.close()
        _log.info("stopped")
    finally:
        _log.setLevel(level)
    return EXIT_OK


@contextlib.contextmanager
def _stop_on_signal(server: WebhookServer) -> Iterator[None]:
    """While serving, the first SIGTERM or SIGINT stops the server; the next one interrupts as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach only the main thread (e.g. main() called from a test's thread)
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def _stop(signum: int, frame: FrameType | None) -> None:
        for restored, handler in previous.items():  # a second signal: the command's own handling
            signal.signal(restored, handler)
        server.stop()

    for signum in signals:
        signal.signal(signum, _stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
