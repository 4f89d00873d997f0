"""A test mode like ``stamina.set_testing``: no real waiting, deterministic jitter."""

from __future__ import annotations

__all__ = ["is_testing", "set_testing", "testing_seed"]

_state: dict[str, int | bool] = {"enabled": False, "seed": 0}


def set_testing(enabled: bool = True, *, seed: int = 0) -> None:
    """Turn the queue's test mode on or off, process-wide.

    In test mode every wait (backoff, ``Retry-After``, cool-down, stagger) is
    computed and reported to hooks but not waited, and queues created while it
    is on draw their jitter from ``random.Random(seed)``.

    Args:
        enabled: Whether test mode is on.
        seed: Seed of the jitter of queues created from now on.
    """
    _state["enabled"] = enabled
    _state["seed"] = seed


def is_testing() -> bool:
    """Return whether test mode is on.

    Returns:
        ``True`` between ``set_testing(True)`` and ``set_testing(False)``.
    """
    return bool(_state["enabled"])


def testing_seed() -> int:
    """Return the seed given to :func:`set_testing`.

    Returns:
        The seed for deterministic jitter.
    """
    return int(_state["seed"])
