"""Lazy re-exports for a package's public face (PEP 562).

A package lists each public name with the submodule that defines it; a name is
imported the first time it is looked up. ``import jirabucket`` (run by every
CLI start) and pytest's loading of the ``jirabucket`` plugin (run by every test
session of a project that installs this package) then cost almost nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], homes: Mapping[str, str], *, extra: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for its lazily imported names.

    Args:
        namespace: The package's ``globals()``.
        homes: Public name -> the submodule (relative to the package) that defines it.
        extra: Names defined in the package itself, listed by ``dir()`` too.

    Returns:
        ``(__getattr__, __dir__)`` to bind at the package's top level.
    """
    package = namespace["__name__"]
    listed = sorted([*homes, *extra])

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook's name
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{home}"), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the PEP 562 hook's name
        return listed

    return __getattr__, __dir__
