"""The small JQL subset the simulators understand.

Clauses ``key = A-1``, ``key in (A-1, B-2)``, ``issuekey ...``, ``project = ABC``,
``project in (ABC, OPS)``, joined by ``AND``, with an optional ``ORDER BY key``
(``ASC`` or ``DESC``). Anything else is answered 400, so a client relying on
JQL the simulator does not understand finds out at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jirabucket.testing.http.messages import BadRequest

__all__ = ["JqlQuery", "parse_jql"]

_ORDER = re.compile(r"\s+ORDER\s+BY\s+(?:key|issuekey)(?:\s+(ASC|DESC))?\s*$", re.IGNORECASE)
_CLAUSE = re.compile(
    r"^\s*(?P<field>key|issuekey|project)\s*"
    r"(?:(?P<eq>=)\s*(?P<one>\"[^\"]*\"|'[^']*'|[\w-]+)|"
    r"(?P<in>in)\s*\((?P<many>[^)]*)\))\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class JqlQuery:
    """A parsed query.

    Attributes:
        keys: Issue keys every match must be among, or ``None`` for no key clause.
        projects: Projects every match must be in, or ``None``.
        descending: Order by key descending.
    """

    keys: frozenset[str] | None
    projects: frozenset[str] | None
    descending: bool


def _values(found: re.Match[str]) -> list[str]:
    raw = [found.group("one")] if found.group("eq") else found.group("many").split(",")
    return [value.strip().strip("\"'").upper() for value in raw if value.strip()]


def parse_jql(jql: str) -> JqlQuery:
    """Parse a query of the supported subset.

    Args:
        jql: The query text.

    Returns:
        The parsed query.

    Raises:
        BadRequest: The query uses JQL the simulator does not support.
    """
    text = jql.strip()
    descending = False
    order = _ORDER.search(" " + text)
    if order:
        descending = (order.group(1) or "ASC").upper() == "DESC"
        text = (" " + text)[: order.start()].strip()
    if not text:
        return JqlQuery(None, None, descending)
    keys: frozenset[str] | None = None
    projects: frozenset[str] | None = None
    for clause in re.split(r"\s+AND\s+", text, flags=re.IGNORECASE):
        found = _CLAUSE.match(clause)
        if found is None:
            raise BadRequest(
                f"The simulator does not support this JQL: '{clause.strip()}'. "
                "Supported: key/project with = or in (...), AND, ORDER BY key."
            )
        values = frozenset(_values(found))
        if found.group("field").lower() == "project":
            projects = values if projects is None else projects & values
        else:
            keys = values if keys is None else keys & values
    return JqlQuery(keys, projects, descending)
