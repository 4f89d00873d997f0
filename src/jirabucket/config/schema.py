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

__all__ = ["MAX_WORKERS", "SCHEMA", "Field", "check_table"]


@dataclass(frozen=True, slots=True)
class Field:
    """One key: the types it takes, how to describe them, and optional bounds (inclusive)."""

    types: tuple[type, ...]
    expected: str
    item: type | None = None
    minimum: float | None = None
    maximum: float | None = None


_STR = Field((str,), "a string")
_BOOL = Field((bool,), "true or false")
_STR_LIST = Field((list,), "a list of strings", item=str)
_FLAVOR = Field((str,), "\"cloud\" or \"datacenter\"")
_FIELDS = Field((dict,), 'a table of field values, e.g. resolution = { name = "Done" }')


def _whole(minimum: int, maximum: int) -> Field:
    return Field((int,), f"a whole number from {minimum} to {maximum}", minimum=minimum, maximum=maximum)


def _number(minimum: float, maximum: float, unit: str) -> Field:
    return Field((int, float), f"{unit} from {minimum:g} to {maximum:g}", minimum=minimum, maximum=maximum)


# Every number has bounds: a typo such as workers = 1000000000 is an error, not a hang.
MAX_WORKERS = 256


_Schema = Mapping[str, "Field | _Schema"]

SCHEMA: _Schema = {
    "jira": {"url": _STR, "flavor": _FLAVOR, "projects": _STR_LIST},
    "bitbucket": {
        "url": _STR,
        "flavor": _FLAVOR,
        "repositories": _STR_LIST,
        "requests_per_hour": _number(1, 100_000, "requests an hour"),
    },
    "sync": {
        "scan_commits": _BOOL,
        "comment": _BOOL,
        "transitions": {"open": _STR, "merged": _STR, "declined": _STR},
        "transition_fields": {"open": _FIELDS, "merged": _FIELDS, "declined": _FIELDS},
        "transition_keys_from": _STR_LIST,
        "branch_keys_ignore_case": _BOOL,
        "reopen": _BOOL,
        "max_transition_steps": _whole(1, 10),
    },
    "check_pr": {
        "keys_from": _STR_LIST,
        "projects": _STR_LIST,
        "statuses": _STR_LIST,
        "skip_authors": _STR_LIST,
        "skip_branches": _STR_LIST,
    },
    "serve": {"coalesce_window": _number(0, 60, "seconds"), "shutdown_grace": _number(0, 600, "seconds")},
    "queue": {
        "workers": _whole(1, MAX_WORKERS),
        "per_host_concurrency": _whole(1, MAX_WORKERS),
        "max_attempts": _whole(1, 100),
        "max_delay": _number(0.01, 3600, "seconds"),
        "rate_limit_max_wait": _number(60, 86_400, "seconds"),
        "rate_limit_backoff": _number(0.1, 300, "seconds"),
        "timeout": _number(1, 600, "seconds"),
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
    if ok and isinstance(value, int | float):
        ok = (spec.minimum is None or value >= spec.minimum) and (spec.maximum is None or value <= spec.maximum)
    if not ok:
        raise ConfigError(f"{path}: {dotted} must be {spec.expected}, got {value!r}")
