"""The shape of ``jirabucket.toml``, as data, and the checker that enforces it.

Unknown keys are errors (a typo must never be silently ignored), and so is a
``token`` anywhere: tokens come only from the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jirabucket.errors import ConfigError

__all__ = ["SCHEMA", "Field", "check_table"]


@dataclass(frozen=True, slots=True)
class Field:
    """One key: the types it takes, how to describe them, and an optional lower bound."""

    types: tuple[type, ...]
    expected: str
    item: type | None = None
    minimum: float | None = None


_STR = Field((str,), "a string")
_BOOL = Field((bool,), "true or false")
_STR_LIST = Field((list,), "a list of strings", item=str)
_FLAVOR = Field((str,), "\"cloud\" or \"datacenter\"")


def _positive_int(minimum: int) -> Field:
    return Field((int,), f"a whole number >= {minimum}", minimum=minimum)


_Schema = Mapping[str, "Field | _Schema"]

SCHEMA: _Schema = {
    "jira": {"url": _STR, "flavor": _FLAVOR, "projects": _STR_LIST},
    "bitbucket": {
        "url": _STR,
        "flavor": _FLAVOR,
        "repositories": _STR_LIST,
        "requests_per_hour": Field((int, float), "a number of requests > 0", minimum=1),
    },
    "sync": {
        "scan_commits": _BOOL,
        "comment": _BOOL,
        "transitions": {"open": _STR, "merged": _STR, "declined": _STR},
    },
    "queue": {
        "workers": _positive_int(1),
        "per_host_concurrency": _positive_int(1),
        "max_attempts": _positive_int(1),
        "max_delay": Field((int, float), "seconds >= 0.01", minimum=0.01),
        "timeout": Field((int, float), "seconds > 0", minimum=0.1),
    },
}


def check_table(data: Mapping[str, Any], schema: _Schema, *, path: Path, where: str) -> None:
    """Check a parsed TOML table against the schema.

    Args:
        data: The parsed table.
        schema: Its expected shape.
        path: The file, for messages.
        where: The dotted table name so far ("" at the top).

    Raises:
        ConfigError: A key is unknown, a token, or of the wrong type.
    """
    for key, value in data.items():
        dotted = f"{where}.{key}" if where else key
        if "token" in key.lower() or "password" in key.lower():
            raise ConfigError(
                f"{path}: {dotted}: never put tokens in the config file; "
                "set JIRA_TOKEN / BITBUCKET_TOKEN (or *_FILE) in the environment"
            )
        spec = schema.get(key)
        if spec is None:
            known = ", ".join(sorted(schema)) or "none"
            raise ConfigError(f"{path}: unknown key {dotted!r} (known here: {known})")
        if isinstance(spec, Field):
            _check_value(value, spec, path=path, dotted=dotted)
        elif not isinstance(value, dict):
            raise ConfigError(f"{path}: {dotted} must be a table ([{dotted}])")
        else:
            check_table(value, spec, path=path, where=dotted)


def _check_value(value: object, spec: Field, *, path: Path, dotted: str) -> None:
    bad_bool = isinstance(value, bool) and bool not in spec.types
    ok = isinstance(value, spec.types) and not bad_bool
    if ok and spec.item is not None:
        assert isinstance(value, list)
        ok = all(isinstance(v, spec.item) for v in value)
    if ok and spec.minimum is not None:
        assert isinstance(value, int | float)
        ok = value >= spec.minimum
    if not ok:
        raise ConfigError(f"{path}: {dotted} must be {spec.expected}, got {value!r}")
