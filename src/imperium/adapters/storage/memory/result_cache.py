"""``MemoryResultCache``: the ``ResultCacheStore`` port in memory (unit tests, and a
server on a ``MemoryStore``). Results go through a JSON round trip, as in SQL."""

from __future__ import annotations

import dataclasses

from imperium.adapters.storage.memory._state import json_copy
from imperium.domain.cache import CacheEntry, CacheStats


class MemoryResultCache:
    backend = "memory"

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}
        self.counters: dict[str, CacheStats] = {}

    async def get(self, key: str, now: float) -> CacheEntry | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self.entries[key]  # expired: purged on read
            return None
        return dataclasses.replace(entry, result=json_copy(entry.result))

    async def put(self, entry: CacheEntry) -> None:
        self.entries.pop(entry.key, None)  # a replaced entry counts as the newest
        self.entries[entry.key] = dataclasses.replace(entry, result=json_copy(entry.result))

    async def count(
        self, task_type: str, *, hits: int = 0, misses: int = 0, tokens: int = 0, cost: float = 0.0
    ) -> None:
        old = self.counters.get(task_type, CacheStats(task_type))
        self.counters[task_type] = CacheStats(
            task_type, old.hits + hits, old.misses + misses,
            old.tokens_saved + tokens, old.cost_saved + cost,
        )  # fmt: skip

    async def stats(self) -> list[CacheStats]:
        return [self.counters[name] for name in sorted(self.counters)]

    async def purge(self, now: float, max_entries: int) -> int:
        expired = [k for k, e in self.entries.items() if e.expires_at <= now]
        for key in expired:
            del self.entries[key]
        oldest = sorted(self.entries.values(), key=lambda e: e.created_at)
        over = oldest[: max(0, len(oldest) - max_entries)]
        for entry in over:
            del self.entries[entry.key]
        return len(expired) + len(over)

    async def close(self) -> None:
        pass
