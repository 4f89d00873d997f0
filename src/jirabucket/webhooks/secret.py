"""The webhook secret and the check of Bitbucket's ``X-Hub-Signature`` header.

Bitbucket Cloud and Data Center sign the raw request body of a webhook that has
a secret: ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>``. Anything
else — no header, another algorithm (GitHub's ``sha1=``), a value that is not 64
hex digits, a wrong digest — is refused, and the comparison takes constant time.
(Atlassian documents ``X-Hub-Signature``; some third-party pages say Cloud names it
``X-Hub-Signature-256``, so the application reads that one when the first is
absent — a guess that costs nothing, the value and its check being the same.)

The secret comes from ``JIRABUCKET_WEBHOOK_SECRET`` or, read like the tokens
with exactly one trailing newline stripped, the file named by
``JIRABUCKET_WEBHOOK_SECRET_FILE``. Like the tokens it never shows in a
``repr``, a message or a log line, and cannot be pickled or copied.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, final

from jirabucket.errors import ConfigError

__all__ = ["SECRET_FILE_VARIABLE", "SECRET_VARIABLE", "Signature", "WebhookSecret"]

SECRET_VARIABLE = "JIRABUCKET_WEBHOOK_SECRET"  # noqa: S105 — a variable's name, not a secret
SECRET_FILE_VARIABLE = "JIRABUCKET_WEBHOOK_SECRET_FILE"  # noqa: S105 — likewise
_MAX_SECRET = 4096
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_HOW_TO_SET = (
    f"export {SECRET_VARIABLE}=<secret> or {SECRET_FILE_VARIABLE}=<path to a file holding it>, "
    "the same secret as in the Bitbucket webhook's settings"
)


class Signature(enum.Enum):
    """What a check of ``X-Hub-Signature`` found (the value goes into the delivery's log line)."""

    VALID = "valid"
    MISSING = "missing"
    OTHER_ALGORITHM = "other algorithm"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


@final
class WebhookSecret:
    """The shared secret of the Bitbucket webhook, masked.

    Args:
        secret: The secret as typed into Bitbucket's webhook settings.
        variable: Where it came from, for messages (never the value).

    Raises:
        ConfigError: It is empty, too long, or holds control characters.
    """

    __slots__ = ("_key", "_variable")

    _key: bytes
    _variable: str

    def __init__(self, secret: str, *, variable: str = SECRET_VARIABLE) -> None:
        if not secret:
            raise ConfigError(f"{variable} is empty: {_HOW_TO_SET}")
        if len(secret) > _MAX_SECRET:
            raise ConfigError(f"{variable} is longer than {_MAX_SECRET} characters: check that it holds one secret")
        if any(ch < " " or ch == "\x7f" for ch in secret):
            raise ConfigError(
                f"{variable} contains control characters: remove them (a stray newline is the usual cause)"
            )
        object.__setattr__(self, "_key", secret.encode("utf-8"))
        object.__setattr__(self, "_variable", variable)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSecret:
        """Read the secret from ``JIRABUCKET_WEBHOOK_SECRET`` or ``JIRABUCKET_WEBHOOK_SECRET_FILE``.

        Args:
            environ: The environment; ``os.environ`` when ``None``.

        Returns:
            The secret.

        Raises:
            ConfigError: Neither or both are set, the file cannot be read, or the value is unusable;
                the message says how to set it and never shows the value.
        """
        env = os.environ if environ is None else environ
        direct, path = env.get(SECRET_VARIABLE), env.get(SECRET_FILE_VARIABLE)
        if direct is not None and path is not None:
            raise ConfigError(f"both {SECRET_VARIABLE} and {SECRET_FILE_VARIABLE} are set: unset one of them")
        if path is not None:
            return cls(_read_secret_file(path), variable=SECRET_FILE_VARIABLE)
        if direct is None:
            raise ConfigError(f"{SECRET_VARIABLE} is not set: {_HOW_TO_SET}")
        return cls(direct)

    @property
    def variable(self) -> str:
        """The environment variable the secret came from (for messages; never the value)."""
        return self._variable

    def check(self, body: bytes, header: str | None) -> Signature:
        """Check an ``X-Hub-Signature`` header against the raw body, in constant time.

        Args:
            body: The request body exactly as received.
            header: The header's value, or ``None`` when it is absent.

        Returns:
            :attr:`Signature.VALID` only for ``sha256=`` and the right 64 hex digits.
        """
        if header is None or not header.strip():
            return Signature.MISSING
        algorithm, sep, digest = header.strip().partition("=")
        if not sep:
            return Signature.MALFORMED
        if algorithm.strip().lower() != "sha256":
            return Signature.OTHER_ALGORITHM
        digest = digest.strip()
        if not _HEX_DIGEST.fullmatch(digest):
            return Signature.MALFORMED
        expected = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        return Signature.VALID if hmac.compare_digest(expected, digest.lower()) else Signature.MISMATCH

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("WebhookSecret is immutable")

    def __repr__(self) -> str:
        return f"WebhookSecret(from {self._variable}, [secure])"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __reduce__(self) -> NoReturn:
        raise TypeError("WebhookSecret cannot be pickled or copied: the secret stays in memory")

    def __copy__(self) -> NoReturn:
        self.__reduce__()

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        self.__reduce__()


def _read_secret_file(path: str) -> str:
    """Read the secret file as UTF-8, stripping exactly one trailing newline (``echo $SECRET > file``)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"{SECRET_FILE_VARIABLE} names a file that cannot be read ({reason})") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    return text
