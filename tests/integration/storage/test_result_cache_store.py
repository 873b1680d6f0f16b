"""Contract of ``ResultCacheStore`` on every backend: memory, SQLite, PostgreSQL and Redis
(a prefix of its own per test, deleted afterwards). An expired entry is never returned;
a put replaces; counters add up (also from concurrent calls); the SQL purge deletes the
expired entries and the oldest beyond the bound."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from imperium.adapters.storage.memory.result_cache import MemoryResultCache
from imperium.adapters.storage.redis_cache import RedisResultCache
from imperium.adapters.storage.result_cache import SqlResultCache
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.cache import CacheEntry, CacheStats
from imperium.ports import ResultCacheStore

T0 = 1_700_000_000.0


class Clock:
    def now(self) -> float:
        return T0

    def monotonic(self) -> float:
        return 0.0


@pytest.fixture(
    params=[
        "memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)  # fmt: skip
async def cache_store(
    request: pytest.FixtureRequest, make_migrated_database_url: Callable[[str], str]
) -> AsyncIterator[ResultCacheStore]:
    if request.param == "memory":
        yield MemoryResultCache()
    elif request.param == "redis":
        url = request.getfixturevalue("redis_url")
        redis_store = RedisResultCache(url, prefix=f"imperium-test:{uuid.uuid4().hex}:")
        try:
            yield redis_store
        finally:
            await redis_store.delete_all()
            await redis_store.close()
    else:
        sql = await SqlStore.connect(make_migrated_database_url(request.param))
        yield SqlResultCache(sql.database, Clock())
        await sql.close()


def entry(key: str, *, created: float = T0, ttl: float = 60.0, result: object = None,
          ) -> CacheEntry:  # fmt: skip
    return CacheEntry(
        key, "product_content", "writer", "0123456789abcdef",
        result if result is not None else {"text": "é", "n": [1, 2.5, None]},
        120, 0.25, created, created + ttl,
    )  # fmt: skip


async def test_an_entry_is_served_until_it_expires(cache_store: ResultCacheStore) -> None:
    stored = entry("a" * 64, created=T0 - 10, ttl=3600)
    await cache_store.put(stored)
    assert await cache_store.get("a" * 64, T0) == stored
    assert await cache_store.get("b" * 64, T0) is None
    await cache_store.put(entry("c" * 64, created=T0 - 10, ttl=5))  # expired at T0 - 5
    assert await cache_store.get("c" * 64, T0) is None


async def test_a_put_replaces_the_entry_under_its_key(cache_store: ResultCacheStore) -> None:
    await cache_store.put(entry("k", result="old"))
    await cache_store.put(entry("k", result="new"))
    found = await cache_store.get("k", T0)
    assert found is not None
    assert found.result == "new"


async def test_counters_add_up_per_task_type(cache_store: ResultCacheStore) -> None:
    assert await cache_store.stats() == []
    await asyncio.gather(
        *(cache_store.count("write", hits=1, tokens=100, cost=0.5) for _ in range(5)),
        cache_store.count("write", misses=1),
        cache_store.count("ads", misses=2),
    )
    assert await cache_store.stats() == [
        CacheStats("ads", 0, 2, 0, 0.0),
        CacheStats("write", 5, 1, 500, pytest.approx(2.5)),  # type: ignore[arg-type]
    ]


async def test_purge_deletes_expired_then_the_oldest_beyond_the_bound(
    cache_store: ResultCacheStore,
) -> None:
    await cache_store.put(entry("gone", created=T0 - 100, ttl=10))
    for i in range(4):
        await cache_store.put(entry(f"live{i}", created=T0 - 50 + i, ttl=3600))
    deleted = await cache_store.purge(T0, max_entries=3)
    if cache_store.backend == "redis":
        assert deleted == 0  # Redis expires and bounds its own entries
        return
    assert deleted == 2
    assert await cache_store.get("live0", T0) is None  # the oldest went
    assert [await cache_store.get(f"live{i}", T0) is not None for i in (1, 2, 3)] == [True] * 3


@pytest.mark.redis
async def test_the_settings_choose_redis_and_refuse_malformed_values(redis_url: str) -> None:
    from imperium.adapters.storage.memory import MemoryStore
    from imperium.settings import Settings
    from imperium.wiring import SystemClock, make_result_cache

    cache = make_result_cache(
        Settings(result_cache="write=60, ads=1.5", result_cache_url=redis_url),
        MemoryStore(),
        SystemClock(),
    )
    try:
        assert (cache.store.backend, cache.ttls) == ("redis", {"write": 60.0, "ads": 1.5})
    finally:
        await cache.close()
    for bad, phrase in [
        ({"result_cache": "write"}, "task_type=seconds"),
        ({"result_cache": "write=0"}, "seconds > 0"),
        ({"result_cache": "write=1,write=2"}, "named twice"),
        ({"result_cache_url": "http://cache:6379"}, "a Redis URL"),
    ]:
        with pytest.raises(ValueError, match=phrase):
            Settings(**bad)  # type: ignore[arg-type]
