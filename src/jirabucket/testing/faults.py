"""Fault settings, the fault draw, and the request log's record type."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = ["FaultKind", "Faults", "RequestRecord", "draw_fault"]

FaultKind = Literal["error", "reset", "reset_after_write", "slow"]
"""The faults a single request can suffer (``rate_limit`` is a window, not a draw)."""

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass(frozen=True)
class Faults:
    """What a simulator does wrong, and how often.

    Each request draws one number from the simulator's seeded generator (in the
    order requests arrive), so a run with the same seed and the same request
    order suffers the same faults. The rates partition that draw, so each fault
    happens at its own rate and their sum must not exceed 1.

    Args:
        latency: Seconds added before every request is handled.
        error_rate: Share of requests answered 503 without being applied; about
            half carry an HTML body, as a proxy in front of the product sends.
        reset_rate: Share of requests whose connection is reset (RST) before the
            request is applied and without an answer.
        reset_after_write_rate: Share of *write* requests (POST, PUT, DELETE,
            PATCH) that are applied and then have their connection reset
            without an answer: the fault that makes duplicates.
        slow_rate: Share of requests that are applied and then answered only
            after ``slow_seconds`` (past a client's timeout).
        slow_seconds: The delay of a slow answer.
        methods: Limit the faults (and latency) to these HTTP methods; ``None``
            means every method.

    Raises:
        ValueError: A rate is outside [0, 1], the rates add up to more than 1,
            or a duration is negative.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    reset_rate: float = 0.0
    reset_after_write_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 5.0
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.reset_rate, self.reset_after_write_rate, self.slow_rate)
        if any(not 0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError(f"fault rates must be within [0, 1], got {rates}")
        if sum(rates) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must add up to at most 1, got {sum(rates)}")
        if self.latency < 0 or self.slow_seconds < 0:
            raise ValueError("latency and slow_seconds must not be negative")
        if self.methods is not None:
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    def applies_to(self, method: str) -> bool:
        """Return whether faults apply to requests with this HTTP method.

        Args:
            method: The request's HTTP method.

        Returns:
            ``True`` when ``methods`` is ``None`` or contains the method.
        """
        return self.methods is None or method.upper() in self.methods


@dataclass(frozen=True)
class RequestRecord:
    """One request a simulator received, as the request log keeps it.

    Attributes:
        method: HTTP method.
        path: URL path, without the query string.
        query: Query parameters, each with every value given.
        status: Status answered; 0 when the connection was reset without an answer.
        auth_scheme: ``"basic"``, ``"bearer"``, or ``None`` without credentials.
        auth_ok: Whether the credentials matched the simulator's.
        fault: The injected fault (``"error"``, ``"reset"``, ``"reset_after_write"``,
            ``"slow"``, ``"rate_limit"``) or ``None``.
        is_write: Whether the method is POST, PUT, DELETE or PATCH.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    auth_scheme: Literal["basic", "bearer"] | None
    auth_ok: bool
    fault: str | None
    is_write: bool


def draw_fault(faults: Faults, rng: random.Random, *, method: str) -> FaultKind | None:
    """Draw the fault one request suffers.

    Exactly one number is drawn per call, whatever the settings, so the fault
    sequence depends only on the seed and the request order.

    Args:
        faults: The settings in force.
        rng: The simulator's seeded generator (the caller holds its lock).
        method: The request's HTTP method.

    Returns:
        The fault to inject, or ``None``.
    """
    roll = rng.random()
    if not faults.applies_to(method):
        return None
    is_write = method.upper() in WRITE_METHODS
    bands: tuple[tuple[FaultKind, float], ...] = (
        ("error", faults.error_rate),
        ("reset", faults.reset_rate),
        ("reset_after_write", faults.reset_after_write_rate if is_write else 0.0),
        ("slow", faults.slow_rate),
    )
    edge = 0.0
    for kind, rate in bands:
        edge += rate
        if roll < edge:
            return kind
    return None
