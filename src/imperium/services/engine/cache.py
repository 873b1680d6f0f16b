"""The result cache as the engine uses it: which task types opted in and for how long, the
lookup before an attempt would start, and the write after one succeeded.

Only a task of a type in ``ttls`` costs anything here: for every other type the engine
asks :meth:`ResultCache.covers` (a dict lookup) and goes on as before. The cache never
holds work up: a store that fails or does not answer within ``timeout`` is a miss (one
warning per minute), and writes (entries and counters) run in the background after the
engine has moved on. Counters live in the store, so they survive restarts and add up
across servers sharing it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from imperium.domain.cache import CacheEntry, CacheStats, cache_key, config_version
from imperium.domain.models import JSON, AgentSpec
from imperium.ports import Clock, ResultCacheStore

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds between warnings about a failing store


class ResultCache:
    def __init__(
        self,
        store: ResultCacheStore,
        ttls: Mapping[str, float],
        clock: Clock,
        *,
        max_entries: int = 100_000,
        timeout: float = 2.0,
    ) -> None:
        self.store = store
        self.ttls = dict(ttls)
        self.clock = clock
        self.max_entries = max_entries
        self.timeout = timeout
        self._pending: set[asyncio.Task[None]] = set()
        self._warned_at = -WARN_EVERY

    def covers(self, task_type: str) -> bool:
        """Whether ``task_type`` opted in (the only question the uncached path asks)."""
        return task_type in self.ttls

    def key(self, task_type: str, payload: JSON, spec: AgentSpec) -> tuple[str, str] | None:
        """The cache key of ``payload`` as a task of ``task_type`` on an agent configured as
        ``spec``, with that configuration's version; None when canonical JSON cannot
        express the payload or the configuration (keys of mixed types, a datetime: what
        orjson accepts and ``json`` does not). Such a task runs uncached."""
        try:
            version = config_version(spec)
            return cache_key(task_type, payload, version), version
        except (TypeError, ValueError, RecursionError) as exc:
            self._warn("key", exc)
            return None

    async def lookup(self, key: str) -> CacheEntry | None:
        """The live entry under ``key`` (see :meth:`key`), or None (also when the store
        fails: the agent runs, as without a cache)."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self.store.get(key, self.clock.now())
        except Exception as exc:
            self._warn("lookup", exc)
            return None

    def counted(self, task_type: str, hit: CacheEntry | None) -> None:
        """Count a hit (with the tokens and cost it saved) or a miss, in the background."""
        if hit is None:
            self._spawn(self.store.count(task_type, misses=1), "count")
        else:
            saved = self.store.count(
                task_type, hits=1, tokens=hit.tokens or 0, cost=hit.cost or 0.0
            )
            self._spawn(saved, "count")

    def remember(
        self,
        key: str,
        task_type: str,
        version: str,
        agent_id: str | None,
        result: JSON,
        tokens: int | None,
        cost: float | None,
    ) -> None:
        """Store a successful attempt's result for ``ttls[task_type]`` seconds, in the
        background."""
        now = self.clock.now()
        entry = CacheEntry(
            key, task_type, agent_id, version, result,
            tokens, cost, now, now + self.ttls[task_type],
        )  # fmt: skip
        self._spawn(self.store.put(entry), "store")

    async def stats(self) -> list[CacheStats]:
        return await self.store.stats()

    async def purge(self) -> dict[str, object]:
        """The routine: expired entries and those beyond ``max_entries`` deleted."""
        deleted = await self.store.purge(self.clock.now(), self.max_entries)
        return {"status": "ok", "deleted": deleted}

    async def drain(self) -> None:
        """Wait for the background writes started so far (at shutdown, and in tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.store.close()

    def _spawn(self, write: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(write, what))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _guarded(self, write: Coroutine[Any, Any, None], what: str) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await write
        except Exception as exc:
            self._warn(what, exc)

    def _warn(self, what: str, exc: BaseException) -> None:
        now = self.clock.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning(
                "result cache %s failed (%s: %s); tasks run on their agents meanwhile",
                what, type(exc).__name__, exc, extra={"action": "result_cache"},
            )  # fmt: skip
