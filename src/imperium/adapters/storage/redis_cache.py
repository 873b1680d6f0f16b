"""``RedisResultCache``: the ``ResultCacheStore`` port in Redis (the ``redis`` extra,
imported when the store is built, so a server without it starts unless it is configured).

Layout, every key under ``prefix`` (``imperium:cache:`` unless told):

- ``{prefix}entry:{key}``: the entry as JSON, with Redis's own expiry (``PX``), so expired
  entries vanish without a purge;
- ``{prefix}stats:{task_type}``: a hash of ``hits``, ``misses``, ``tokens_saved`` and
  ``cost_saved``, added to with ``HINCRBY``/``HINCRBYFLOAT`` in one ``MULTI`` (atomic
  across servers), and the set ``{prefix}types`` naming the types that have one.

The number of entries is bounded by Redis itself (``maxmemory`` with a ``volatile-*``
eviction policy), not here: :meth:`purge` deletes nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from imperium.domain.cache import CacheEntry, CacheStats
from imperium.extras import require

TIMEOUT = 1.0
"""Seconds to connect or answer: an unreachable Redis is a miss, not a stalled dispatch."""

_FIELDS = ("hits", "misses", "tokens_saved", "cost_saved")


class RedisResultCache:
    backend = "redis"

    def __init__(self, url: str, prefix: str = "imperium:cache:") -> None:
        asyncio_redis = require("redis.asyncio", "the result cache in Redis")
        self.prefix = prefix
        self._client: Any = asyncio_redis.from_url(
            url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )

    def _entry_key(self, key: str) -> str:
        return f"{self.prefix}entry:{key}"

    def _stats_key(self, task_type: str) -> str:
        return f"{self.prefix}stats:{task_type}"

    async def get(self, key: str, now: float) -> CacheEntry | None:
        raw = await self._client.get(self._entry_key(key))
        if raw is None:
            return None
        entry = CacheEntry(**orjson.loads(raw))
        return entry if entry.expires_at > now else None  # Redis's expiry may lag a little

    async def put(self, entry: CacheEntry) -> None:
        ttl_ms = max(1, round((entry.expires_at - entry.created_at) * 1000))
        value = orjson.dumps(dataclasses.asdict(entry), option=orjson.OPT_NON_STR_KEYS)
        await self._client.set(self._entry_key(entry.key), value, px=ttl_ms)

    async def count(
        self, task_type: str, *, hits: int = 0, misses: int = 0, tokens: int = 0, cost: float = 0.0
    ) -> None:
        key = self._stats_key(task_type)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "hits", hits)
            pipe.hincrby(key, "misses", misses)
            pipe.hincrby(key, "tokens_saved", tokens)
            pipe.hincrbyfloat(key, "cost_saved", cost)
            pipe.sadd(f"{self.prefix}types", task_type)
            await pipe.execute()

    async def stats(self) -> list[CacheStats]:
        names = sorted(n.decode() for n in await self._client.smembers(f"{self.prefix}types"))
        if not names:
            return []
        async with self._client.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hmget(self._stats_key(name), *_FIELDS)
            rows = await pipe.execute()
        return [
            CacheStats(name, int(h or 0), int(m or 0), int(t or 0), float(c or 0.0))
            for name, (h, m, t, c) in zip(names, rows, strict=True)
        ]

    async def purge(self, now: float, max_entries: int) -> int:
        return 0  # Redis expires entries itself; its maxmemory policy bounds them

    async def delete_all(self) -> None:
        """Delete every key under the prefix (tests clean up with this)."""
        keys = [k async for k in self._client.scan_iter(match=f"{self.prefix}*")]
        if keys:
            await self._client.delete(*keys)

    async def close(self) -> None:
        await self._client.aclose()
