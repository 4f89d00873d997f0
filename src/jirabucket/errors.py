"""The one error tree of jirabucket.

Every error the library raises on purpose is a :class:`JirabucketError`. API
errors carry the HTTP status (``None`` for network failures), a short body
excerpt that never contains a secret, and the server's requested wait::

    JirabucketError                 base; .status, .body
    ├── ConfigError                 bad settings, token, TOML or usage   (CLI exit 2)
    ├── StateError                  state dir or database damaged/unwritable (CLI exit 74)
    ├── StateLocked                 another sync holds the state dir    (CLI exit 75)
    └── ApiError                    an HTTP call failed; .retry_after, .method, .url
        ├── AuthError               401, 403: credentials wrong or not allowed
        ├── NotFound                404, 410: no such resource (or endpoint gone)
        ├── RateLimited             429: slow down; .retry_after says how long
        ├── TransientError          500, 502, 503, 504, resets, timeouts (status None)
        │   └── OutcomeUnknown      a non-idempotent write failed mid-flight: it may have happened
        └── PermanentError          any other 4xx: the request will never succeed as sent

The queue retries :class:`RateLimited` and :class:`TransientError`, and a bare
handler's builtin ``ConnectionError`` and ``TimeoutError`` (see
:mod:`jirabucket.queue.policy`); everything else fails the task at once.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "JirabucketError",
    "NotFound",
    "OutcomeUnknown",
    "PermanentError",
    "RateLimited",
    "StateError",
    "StateLocked",
    "TransientError",
    "error_for_status",
]

_BODY_LIMIT = 300


def _excerpt(body: str | bytes | None) -> str:
    """Return a short, single-line excerpt of a response body."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    flat = " ".join(body.split())
    return flat if len(flat) <= _BODY_LIMIT else flat[: _BODY_LIMIT - 1] + "…"


class JirabucketError(Exception):
    """Base class of every error jirabucket raises on purpose.

    Args:
        message: One line saying what is wrong and, where it helps, how to fix it.
        status: HTTP status code, when the error came from an HTTP answer.
        body: The response body; only a short excerpt is kept.
    """

    def __init__(
        self, message: str, *, status: int | None = None, body: str | bytes | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = _excerpt(body)

    def __str__(self) -> str:
        return self.message


class ConfigError(JirabucketError):
    """Settings, a token, the TOML file or a command line is wrong (CLI exit code 2)."""


class StateError(JirabucketError):
    """The state directory or its database is damaged, unreadable, unwritable or full (CLI exit code 74).

    The message names the file and what to do; nothing is lost in Jira, and the
    cursor has not moved, so the next run after the fix redoes what is missing.
    """


class StateLocked(JirabucketError):
    """Another process holds the state directory's lock (CLI exit code 75)."""


class ApiError(JirabucketError):
    """An HTTP call to Jira or Bitbucket failed.

    Args:
        message: One line describing the failure.
        status: The HTTP status, or ``None`` for a network failure.
        body: The response body; only a short excerpt is kept.
        retry_after: Seconds the server asked us to wait, if it said.
        method: The HTTP method of the failed call, e.g. ``"POST"``.
        url: The URL of the failed call (never carries credentials).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | bytes | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after
        self.method = method
        self.url = url


class AuthError(ApiError):
    """401 or 403: the token is wrong, expired, or lacks a permission."""


class NotFound(ApiError):
    """404 or 410: the resource (or the endpoint) does not exist."""


class RateLimited(ApiError):
    """429: the server asks us to slow down; ``retry_after`` says for how long."""


class TransientError(ApiError):
    """A failure that may pass: 5xx, a reset, a timeout (``status`` is ``None`` then)."""


class OutcomeUnknown(TransientError):
    """A write that is not safe to repeat failed mid-flight: it may or may not have happened."""


class PermanentError(ApiError):
    """A 4xx other than 401/403/404/410/429: repeating the request cannot help."""


def error_for_status(status: int) -> type[ApiError]:
    """Return the error class for an HTTP status code.

    Args:
        status: An HTTP status code of a failed answer (>= 400).

    Returns:
        The :class:`ApiError` subclass that stands for it.
    """
    if status in (401, 403):
        return AuthError
    if status in (404, 410):
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return TransientError
    return PermanentError
