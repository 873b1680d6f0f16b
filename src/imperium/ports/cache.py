"""The result cache's storage: entries with an expiry, and counters per task type."""

from __future__ import annotations

from typing import Protocol

from imperium.domain.cache import CacheEntry, CacheStats


class ResultCacheStore(Protocol):
    """Where cached results live (the database, Redis, or memory in tests). An expired
    entry is never returned; ``purge`` deletes them (Redis expires its own)."""

    backend: str
    """``database``, ``redis`` or ``memory``: shown on ``/api/status``."""

    async def get(self, key: str, now: float) -> CacheEntry | None:
        """The entry under ``key`` if it has not expired at ``now``."""
        ...

    async def put(self, entry: CacheEntry) -> None:
        """Store ``entry``, replacing any under its key."""
        ...

    async def count(
        self, task_type: str, *, hits: int = 0, misses: int = 0, tokens: int = 0, cost: float = 0.0
    ) -> None:
        """Add to ``task_type``'s counters (kept across restarts)."""
        ...

    async def stats(self) -> list[CacheStats]:
        """Every task type's counters, by task type."""
        ...

    async def purge(self, now: float, max_entries: int) -> int:
        """Delete expired entries, then the oldest beyond ``max_entries``; how many went."""
        ...

    async def close(self) -> None: ...
