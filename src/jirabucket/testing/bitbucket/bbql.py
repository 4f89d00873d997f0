"""The BBQL subset the Bitbucket Cloud simulator understands.

Clauses ``field op value`` joined by ``AND``, where field is ``updated_on``,
``created_on``, ``state`` or ``id``; op is one of ``= != > >= < <=``; values are
double-quoted strings (datetimes in ISO 8601) or bare integers for ``id``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jirabucket.testing.bitbucket.state import StoredPullRequest
from jirabucket.testing.http.messages import BadRequest

__all__ = ["BbqlFilter", "parse_bbql"]

_CLAUSE = re.compile(
    r"^\s*(?P<field>updated_on|created_on|state|id)\s*(?P<op>>=|<=|!=|=|>|<)\s*"
    r'(?P<value>"[^"]*"|\d+)\s*$'
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class BbqlFilter:
    """A parsed query.

    Attributes:
        clauses: (field, comparison, value) triples that must all hold.
        mentions_state: Whether a clause filters on ``state``.
    """

    clauses: tuple[tuple[str, Callable[[Any, Any], bool], Any], ...]
    mentions_state: bool

    def matches(self, pr: StoredPullRequest) -> bool:
        """Return whether a pull request satisfies every clause."""
        values = {"updated_on": pr.updated, "created_on": pr.created, "state": pr.state, "id": pr.id}
        return all(compare(values[name], value) for name, compare, value in self.clauses)


def _value(field: str, raw: str) -> Any:
    text = raw.strip('"')
    if field == "id":
        return int(text)
    if field == "state":
        return text.upper()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"Invalid datetime value '{text}' for field '{field}'") from None
    if moment.tzinfo is None:
        raise BadRequest(f"Datetime '{text}' for field '{field}' needs a timezone")
    return moment


def parse_bbql(q: str | None) -> BbqlFilter:
    """Parse a BBQL query of the supported subset.

    Args:
        q: The ``q`` parameter, or ``None``.

    Returns:
        The filter (matching everything when ``q`` is empty).

    Raises:
        BadRequest: The query is not in the supported subset.
    """
    if not q or not q.strip():
        return BbqlFilter((), mentions_state=False)
    clauses = []
    for part in re.split(r"\s+AND\s+", q.strip()):
        found = _CLAUSE.match(part)
        if found is None:
            raise BadRequest(f"Invalid query '{q}': cannot parse '{part.strip()}'")
        name = found.group("field")
        clauses.append((name, _OPS[found.group("op")], _value(name, found.group("value"))))
    return BbqlFilter(tuple(clauses), mentions_state=any(c[0] == "state" for c in clauses))
