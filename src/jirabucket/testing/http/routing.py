"""The regex routing table: which handler answers a method and path."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jirabucket.testing.http.messages import BadRequest, Request, Response

__all__ = ["Handler", "Route", "Router"]

Handler = Callable[[Request], Response]
"""A route's handler: takes the request, returns the answer or raises :class:`BadRequest`."""


@dataclass(frozen=True)
class Route:
    """One row of a routing table.

    Attributes:
        method: HTTP method.
        pattern: Regex matched against the whole path; named groups become params.
        handler: Called with the request.
    """

    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """A table of routes, matched in order.

    Args:
        prefixes: Regexes of the path prefixes each route is served under (e.g.
            ``/rest/api/(?P<version>2|3)``); their named groups become params too.
    """

    def __init__(self, prefixes: Iterable[str] = ("",)) -> None:
        self._prefixes = tuple(prefixes)
        self._routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler, *, prefixed: bool = True) -> None:
        """Serve ``path`` (a regex, after each prefix) for ``method`` with ``handler``.

        Args:
            method: HTTP method.
            path: Regex of the path after the prefix.
            handler: Called with the request.
            prefixed: ``False`` serves ``path`` as it is, without the prefixes.
        """
        for prefix in self._prefixes if prefixed else ("",):
            pattern = re.compile(prefix + path)
            self._routes.append(Route(method.upper(), pattern, handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """Return the handler and path params for a request, or ``None``.

        Returns:
            ``None`` when no route matches the path; a method mismatch on a known
            path yields a 405 handler.
        """
        path_known = False
        # The products accept a trailing slash, and some clients (atlassian-python-api) send one.
        path = path.rstrip("/") or "/"
        for route in self._routes:
            found = route.pattern.fullmatch(path)
            if found is None:
                continue
            if route.method == method:
                return route.handler, found.groupdict()
            path_known = True
        if path_known:
            return _method_not_allowed, {}
        return None


def _method_not_allowed(_request: Request) -> Response:
    raise BadRequest("Method not allowed.", status=405)
