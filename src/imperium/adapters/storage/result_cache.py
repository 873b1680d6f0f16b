"""``SqlResultCache``: the ``ResultCacheStore`` port in the database (SQLite or
PostgreSQL), over ``result_cache_entries`` and ``result_cache_stats`` (migration 0020).

A read ignores expired rows; :meth:`purge` (a routine) deletes them, then the oldest rows
beyond the bound. Counters are added with one upsert per call, so concurrent servers
(or a restarted one) never lose a count.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imperium.adapters.storage.database import Database, SqlArea
from imperium.adapters.storage.tables import result_cache_entries, result_cache_stats
from imperium.domain.cache import CacheEntry, CacheStats
from imperium.ports import Clock

ENTRY = result_cache_entries
STATS = result_cache_stats


class SqlResultCache(SqlArea):
    backend = "database"

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db)
        self._clock = clock

    async def get(self, key: str, now: float) -> CacheEntry | None:
        query = sa.select(ENTRY).where(ENTRY.c.key == key, ENTRY.c.expires_at > now)
        rows = await self._db.fetch(query)
        return _entry(rows[0]) if rows else None

    async def put(self, entry: CacheEntry) -> None:
        row = {
            "key": entry.key, "task_type": entry.task_type, "agent_id": entry.agent_id,
            "config_version": entry.config_version, "result": entry.result,
            "tokens": entry.tokens, "cost": entry.cost, "created_at": entry.created_at,
            "expires_at": entry.expires_at,
        }  # fmt: skip
        async with self._db.transaction() as conn:
            await conn.execute(self._db.upsert(ENTRY, row, "key"))

    async def count(
        self, task_type: str, *, hits: int = 0, misses: int = 0, tokens: int = 0, cost: float = 0.0
    ) -> None:
        row: dict[str, Any] = {
            "task_type": task_type, "hits": hits, "misses": misses, "tokens_saved": tokens,
            "cost_saved": cost, "updated_at": self._clock.now(),
        }  # fmt: skip
        insert = self._db.insert(STATS).values(row)
        added = {name: STATS.c[name] + insert.excluded[name]
                 for name in ("hits", "misses", "tokens_saved", "cost_saved")}  # fmt: skip
        upsert = insert.on_conflict_do_update(
            index_elements=[STATS.c.task_type],
            set_={**added, "updated_at": insert.excluded.updated_at},
        )
        async with self._db.transaction() as conn:
            await conn.execute(upsert)

    async def stats(self) -> list[CacheStats]:
        rows = await self._db.fetch(sa.select(STATS).order_by(STATS.c.task_type))
        return [
            CacheStats(
                r.task_type, int(r.hits), int(r.misses), int(r.tokens_saved), float(r.cost_saved)
            )
            for r in rows
        ]

    async def purge(self, now: float, max_entries: int) -> int:
        async with self._db.transaction() as conn:
            expired = await conn.execute(sa.delete(ENTRY).where(ENTRY.c.expires_at <= now))
            kept = (await conn.execute(sa.select(sa.func.count()).select_from(ENTRY))).scalar()
            over = int(kept or 0) - max_entries
            evicted = 0
            if over > 0:
                oldest = sa.select(ENTRY.c.key).order_by(ENTRY.c.created_at).limit(over)
                result = await conn.execute(sa.delete(ENTRY).where(ENTRY.c.key.in_(oldest)))
                evicted = result.rowcount
        return int(expired.rowcount) + int(evicted)

    async def close(self) -> None:
        pass  # the database is the runtime's, closed with it


def _entry(row: Any) -> CacheEntry:
    return CacheEntry(
        row.key, row.task_type, row.agent_id, row.config_version, row.result,
        row.tokens, row.cost, row.created_at, row.expires_at,
    )  # fmt: skip
