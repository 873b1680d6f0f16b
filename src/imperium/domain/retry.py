"""Retry backoff: exponential with jitter, as a pure function."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``base * factor**(attempt-1)`` seconds, capped, then spread by +-``jitter`` (a fraction)."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.2

    def delay(self, attempt: int, unit_random: float) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        ``unit_random`` is a draw from [0, 1) supplied by the caller's seeded RNG.
        """
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        try:
            nominal = min(self.cap, self.base * self.factor ** (attempt - 1))
        except OverflowError:
            nominal = self.cap
        spread = 1.0 + self.jitter * (2.0 * unit_random - 1.0)
        return min(self.cap, max(0.0, nominal * spread))


def should_retry(attempts_made: int, max_attempts: int, retryable: bool) -> bool:
    """True while attempts remain and the failure allows another try."""
    return retryable and attempts_made < max_attempts
