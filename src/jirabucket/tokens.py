"""Typed, masked credentials: :class:`JiraToken` and :class:`BitbucketToken`.

The two are distinct final classes, so a type checker rejects one where the
other is expected, and the clients check it again at run time. A token's secret
leaves the object only into an ``Authorization`` header: ``repr``, ``str`` and
``format`` show the kind and at most its last four characters, and pickling or
copying (the way a task would end up in a journal) is refused.

Example::

    token = JiraToken.from_env()          # JIRA_TOKEN or JIRA_TOKEN_FILE, JIRA_EMAIL
    session.auth = token.auth()
"""

from __future__ import annotations

import base64
import hmac
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, NoReturn, final

import requests

from jirabucket.errors import ConfigError

__all__ = ["JIRA_EMAIL_VARIABLES", "JIRA_TOKEN_VARIABLES", "BitbucketToken", "JiraToken", "TokenAuth"]

_MAX_SECRET = 4096
#: Where a Jira token and its email are read from, ours first; the others are what other Jira tools use.
JIRA_TOKEN_VARIABLES = ("JIRA_TOKEN", "JIRA_API_TOKEN")
JIRA_EMAIL_VARIABLES = ("JIRA_EMAIL", "JIRA_USER_EMAIL")
_MAX_NAME = 256


def _check_printable(value: str, *, what: str, limit: int) -> None:
    """Raise ConfigError unless ``value`` is a non-empty run of printable, non-space ASCII."""
    if not value:
        raise ConfigError(f"{what} is empty: set it to the token's value")
    if len(value) > limit:
        raise ConfigError(f"{what} is longer than {limit} characters: check that it holds one token")
    if not all("!" <= ch <= "~" for ch in value):
        raise ConfigError(
            f"{what} contains whitespace, control or non-ASCII characters: "
            "remove them (a stray newline or space is the usual cause)"
        )


def _mask(secret: str) -> str:
    """Return a masked form showing at most the last four characters (none for short ones)."""
    return "…" + secret[-4:] if len(secret) >= 16 else "…"


@final
class TokenAuth(requests.auth.AuthBase):
    """A ``requests`` auth that sets one ``Authorization`` header and masks itself.

    Args:
        header: The full ``Authorization`` header value.
        label: What ``repr`` shows instead of the header.
    """

    __slots__ = ("_header", "_label")

    def __init__(self, header: str, *, label: str) -> None:
        self._header = header
        self._label = label

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the ``Authorization`` header on a prepared request."""
        r.headers["Authorization"] = self._header
        return r

    def __repr__(self) -> str:
        return f"TokenAuth({self._label}, authorization=[secure])"

    def __reduce__(self) -> NoReturn:
        raise TypeError("TokenAuth holds a secret and cannot be pickled or copied")


class _Token:
    """Shared behaviour of the token kinds; never instantiated itself."""

    __slots__ = ("_name", "_secret", "_variable")
    _kind: str = "Token"
    _name_label: str = "name"

    _secret: str
    _name: str | None
    _variable: str

    def __init_subclass__(cls) -> None:
        # final at run time too: a subclass could override __repr__ and leak the secret
        if _Token not in cls.__bases__:
            raise TypeError(f"{cls.__mro__[1].__name__} is final and cannot be subclassed")
        super().__init_subclass__()

    def _init(self, secret: str, name: str | None, variable: str) -> None:
        _check_printable(secret, what=variable, limit=_MAX_SECRET)
        if name is not None:
            _check_printable(name, what=f"the {self._name_label} for {variable}", limit=_MAX_NAME)
        object.__setattr__(self, "_secret", secret)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_variable", variable)

    @property
    def variable(self) -> str:
        """The environment variable the secret came from (for messages; never the value)."""
        return self._variable

    @property
    def scheme(self) -> Literal["basic", "bearer"]:
        """``"basic"`` when a user name or email goes with the secret, else ``"bearer"``."""
        return "bearer" if self._name is None else "basic"

    def auth(self) -> TokenAuth:
        """Return a ``requests`` auth object that sends this token.

        Returns:
            A :class:`TokenAuth` applying Basic (``name:secret``) or Bearer auth.
        """
        if self._name is None:
            header = f"Bearer {self._secret}"
        else:
            raw = f"{self._name}:{self._secret}".encode()
            header = "Basic " + base64.b64encode(raw).decode("ascii")
        return TokenAuth(header, label=f"{self._kind} {self.scheme}")

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{self._kind} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{self._kind} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented if not isinstance(other, _Token) else False
        assert isinstance(other, _Token)
        same_secret = hmac.compare_digest(self._secret.encode(), other._secret.encode())
        return same_secret and self._name == other._name

    def __hash__(self) -> int:
        return hash((self._kind, self._name))

    def __repr__(self) -> str:
        who = f", {self._name_label}={self._name!r}" if self._name else ""
        return f"{self._kind}({_mask(self._secret)}{who})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"{self._kind} cannot be pickled or copied: tokens stay in memory and "
            "never go into a journal or file"
        )

    def __copy__(self) -> NoReturn:
        self.__reduce__()

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        self.__reduce__()


def _read_env(
    environ: Mapping[str, str] | None, names: tuple[str, ...], user_vars: tuple[str, ...]
) -> tuple[str, str, str | None]:
    """Read the first of ``names`` (or its ``_FILE`` form) that is set, and the first of ``user_vars``.

    Our own names come first, so they win over the aliases other Jira tools use
    (``JIRA_API_TOKEN``, ``JIRA_USER_EMAIL``) when both are set.

    Returns:
        (secret, the variable it came from, user or ``None``).
    """
    env = os.environ if environ is None else environ
    user = next((env[v] for v in user_vars if env.get(v)), None)
    for name in names:
        direct, file_var = env.get(name), f"{name}_FILE"
        path = env.get(file_var)
        if direct is not None and path is not None:
            raise ConfigError(f"both {name} and {file_var} are set: unset one of them")
        if path is not None:
            return _read_secret_file(path, file_var), file_var, user
        if direct is not None:
            return direct, name, user
    name = names[0]
    raise ConfigError(f"{name} is not set: export {name}=<token> or {name}_FILE=<path to a file>")


def _read_secret_file(path: str, variable: str) -> str:
    """Read a secret file, stripping exactly one trailing newline."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"{variable} names a file that cannot be read ({reason})") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


@final
class JiraToken(_Token):
    """A Jira credential.

    With ``email`` it is a Jira Cloud API token sent as Basic ``email:secret``;
    without, a Jira Data Center personal access token sent as ``Bearer``.

    Args:
        secret: The token itself.
        email: The Atlassian account email that goes with a Cloud API token.
        variable: The name reported in errors (never the value).

    Raises:
        ConfigError: The secret or email is empty, too long, or has whitespace,
            control or non-ASCII characters.
    """

    __slots__ = ()
    _kind = "JiraToken"
    _name_label = "email"

    def __init__(self, secret: str, *, email: str | None = None, variable: str = "JIRA_TOKEN") -> None:
        self._init(secret, email, variable)

    @property
    def email(self) -> str | None:
        """The account email for Basic auth, or ``None`` for a Bearer token."""
        return self._name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JiraToken:
        """Build a token from ``JIRA_TOKEN`` or ``JIRA_TOKEN_FILE`` and ``JIRA_EMAIL``.

        ``JIRA_API_TOKEN`` (``_FILE``) and ``JIRA_USER_EMAIL``, the names other Jira
        tools use, are read when ours are not set.

        Args:
            environ: The environment to read; ``os.environ`` when ``None``.

        Returns:
            The token.

        Raises:
            ConfigError: A variable is missing, both forms are set, or the value is invalid.
        """
        secret, variable, email = _read_env(environ, JIRA_TOKEN_VARIABLES, JIRA_EMAIL_VARIABLES)
        return cls(secret, email=email, variable=variable)


@final
class BitbucketToken(_Token):
    """A Bitbucket credential.

    With ``username`` it is sent as Basic ``username:secret`` (a Cloud API token
    with the account email, or a legacy app password with the user name);
    without, as ``Bearer`` (Cloud repository/project/workspace access tokens,
    Data Center HTTP access tokens).

    Args:
        secret: The token itself.
        username: The email or user name for Basic auth.
        variable: The name reported in errors (never the value).

    Raises:
        ConfigError: The secret or user name is empty, too long, or has
            whitespace, control or non-ASCII characters.
    """

    __slots__ = ()
    _kind = "BitbucketToken"
    _name_label = "username"

    def __init__(
        self, secret: str, *, username: str | None = None, variable: str = "BITBUCKET_TOKEN"
    ) -> None:
        self._init(secret, username, variable)

    @property
    def username(self) -> str | None:
        """The user name or email for Basic auth, or ``None`` for a Bearer token."""
        return self._name

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BitbucketToken:
        """Build a token from ``BITBUCKET_TOKEN`` or ``BITBUCKET_TOKEN_FILE`` and ``BITBUCKET_USERNAME``.

        Args:
            environ: The environment to read; ``os.environ`` when ``None``.

        Returns:
            The token.

        Raises:
            ConfigError: A variable is missing, both forms are set, or the value is invalid.
        """
        secret, variable, username = _read_env(environ, ("BITBUCKET_TOKEN",), ("BITBUCKET_USERNAME",))
        return cls(secret, username=username, variable=variable)


def require_token(value: object, expected: type[_Token], *, who: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a token of the ``expected`` kind.

    Args:
        value: What the caller passed.
        expected: :class:`JiraToken` or :class:`BitbucketToken`.
        who: The receiving class, for the message.

    Raises:
        TypeError: ``value`` is not an instance of ``expected``.
    """
    if not isinstance(value, expected):
        raise TypeError(
            f"{who} needs a {expected.__name__}, got a {type(value).__name__}"
        )
