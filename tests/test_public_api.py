"""The package's public face: a sorted __all__ whose names all exist and are documented."""

from __future__ import annotations

import importlib

import pytest

import jirabucket

MODULES = [
    "jirabucket",
    "jirabucket.check",
    "jirabucket.cli",
    "jirabucket.clients",
    "jirabucket.config",
    "jirabucket.demo",
    "jirabucket.errors",
    "jirabucket.hosts",
    "jirabucket.models",
    "jirabucket.queue",
    "jirabucket.release",
    "jirabucket.release.notes",
    "jirabucket.release.plan",
    "jirabucket.release.report",
    "jirabucket.runtime",
    "jirabucket.statedir",
    "jirabucket.sync",
    "jirabucket.sync.keys",
    "jirabucket.sync.report",
    "jirabucket.sync.state",
    "jirabucket.sync.steps",
    "jirabucket.testing",
    "jirabucket.tokens",
    "jirabucket.webhooks",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_key)
    for attr in names:
        obj = getattr(module, attr)
        assert not attr.startswith("_")
        if callable(obj) and (isinstance(obj, type) or hasattr(obj, '__code__')):
            assert obj.__doc__, f"{name}.{attr} has no docstring"


def test_top_level_exports_core_names() -> None:
    for attr in ("JiraToken", "BitbucketToken", "JirabucketError", "ConfigError", "RateLimited"):
        assert attr in jirabucket.__all__


def test_py_typed_ships() -> None:
    from importlib.resources import files

    assert files("jirabucket").joinpath("py.typed").is_file()
