"""Time and randomness, injected so the core never reads the system clock or a global RNG."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch (stored times, shown to people and SQL)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps (deadlines inside the running process:
        leases, timeouts, backoff), so a change of the wall clock expires nothing."""
        ...


class Rng(Protocol):
    def random(self) -> float:
        """A draw from [0, 1)."""
        ...
