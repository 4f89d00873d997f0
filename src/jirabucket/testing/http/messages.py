"""Request and response values, the error handlers raise, and JSON helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

__all__ = ["AuthScheme", "BadRequest", "Credentials", "Request", "Response", "json_response", "text_response"]

AuthScheme = Literal["basic", "bearer"]
"""How a request authenticated."""


class BadRequest(Exception):
    """Raised by a handler to answer 4xx in the product's error shape.

    Args:
        message: The error message shown to the client.
        status: HTTP status, 400 unless given.
        field_errors: Field name to message, for products that report them.
        code: A product-specific error name (Bitbucket Data Center's
            ``exceptionName``); the product's default for the status when ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        field_errors: Mapping[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field_errors = dict(field_errors or {})
        self.code = code


@dataclass(frozen=True)
class Credentials:
    """Credentials parsed from an ``Authorization`` header.

    Attributes:
        scheme: ``"basic"`` or ``"bearer"``.
        user: The Basic user name (``""`` for Bearer).
        secret: The Basic password or the Bearer token.
    """

    scheme: AuthScheme
    user: str
    secret: str


@dataclass(frozen=True)
class Request:
    """A request as a handler sees it.

    Attributes:
        method: HTTP method, upper case.
        path: URL path without the query string.
        query: Query parameters with every value given.
        params: Named groups of the route's pattern.
        body: Raw request body.
        base_url: The simulator's URL, for ``self`` links.
        credentials: The (valid) credentials it came with, for products whose
            answer depends on the kind of credential.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    params: dict[str, str]
    body: bytes
    base_url: str
    credentials: Credentials | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of a query parameter, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default

    def int_arg(self, name: str, default: int) -> int:
        """Return a query parameter as an int.

        Raises:
            BadRequest: The value is not an integer.
        """
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadRequest(f"Parameter '{name}' must be an integer, got '{raw}'.") from None

    def json(self) -> Any:
        """Return the body parsed as JSON.

        Raises:
            BadRequest: The body is empty or not JSON.
        """
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None

    def json_object(self) -> dict[str, Any]:
        """Return the body as a JSON object.

        Raises:
            BadRequest: The body is not a JSON object.
        """
        data = self.json()
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data

    def url_with(self, **changes: str) -> str:
        """Return this request's URL with some query parameters replaced."""
        query = {k: list(v) for k, v in self.query.items()}
        for key, value in changes.items():
            query[key] = [value]
        return f"{self.base_url}{self.path}?{urlencode(query, doseq=True)}"


@dataclass(frozen=True)
class Response:
    """An answer a handler returns.

    Attributes:
        status: HTTP status.
        body: Raw body.
        content_type: The Content-Type header.
        headers: Extra headers.
    """

    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def json_response(status: int, data: Any, *, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Return a JSON answer.

    Args:
        status: HTTP status.
        data: Any JSON-serialisable value.
        headers: Extra headers.

    Returns:
        The response.
    """
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(status, body, headers=tuple(headers))


def text_response(status: int, text: str, *, content_type: str = "text/plain") -> Response:
    """Return a text answer (``text/plain`` unless ``content_type`` says otherwise)."""
    return Response(status, text.encode("utf-8"), content_type=f"{content_type};charset=UTF-8")
