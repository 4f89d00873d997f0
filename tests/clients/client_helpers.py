"""Helpers for the client tests: a queue that records what clients submit."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any


@dataclass
class Submitted:
    """One task as a client submitted it."""

    operation: str
    args: Mapping[str, Any]
    key: str
    idempotent: bool
    subkey: str | None
    durable: bool = True


class RecordingQueue:
    """A TaskSink that records each submission and runs its handler at once, in the caller's thread.

    The arguments go through ``json`` first, as the journal would store them.
    """

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Callable[[Mapping[str, Any]], object]] = {}
        self.submitted: list[Submitted] = []
        self.closed = False

    def register(self, operation: str, handler: Callable[[Mapping[str, Any]], object], *, key: str) -> None:
        self.handlers[(key, operation)] = handler

    def submit(
        self, operation: str, args: Mapping[str, Any], *, key: str, idempotent: bool,
        subkey: str | None = None, durable: bool = True,
    ) -> Future[Any]:
        stored = json.loads(json.dumps(args))
        self.submitted.append(Submitted(operation, stored, key, idempotent, subkey, durable))
        future: Future[Any] = Future()
        try:
            future.set_result(self.handlers[(key, operation)](stored))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def close(self) -> None:
        self.closed = True

    @property
    def flags(self) -> list[tuple[str, bool, str | None]]:
        """``(operation, idempotent, subkey)`` of each submission."""
        return [(t.operation, t.idempotent, t.subkey) for t in self.submitted]
