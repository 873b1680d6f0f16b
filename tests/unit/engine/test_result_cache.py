"""The result cache in the engine (memory store): a hit ends the task with the stored
result without starting its agent, recorded as a ``cached`` execution the router does not
learn from; a miss runs the agent and stores a success; payload, agent configuration and
expiry decide what is a hit; types that did not opt in never touch the cache."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import random
from typing import Any

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.result_cache import MemoryResultCache
from imperium.domain.cache import CacheStats, cache_key, config_version
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.routing import Router
from imperium.domain.states import AgentStatus, Outcome, TaskState
from imperium.services.engine import Engine
from imperium.services.engine.cache import ResultCache

from .conftest import (
    FakeClock,
    MakeEngine,
    agent_spec,
    event_types,
    job,
    outcomes,
    settle,
    started_ids,
    stored,
)

TTL = 600.0


class CountingCache(MemoryResultCache):
    """The memory store, counting the calls the engine makes on it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None

    async def get(self, key: str, now: float) -> Any:
        self.calls.append("get")
        if self.gate is not None:
            await self.gate.wait()
        return await super().get(key, now)

    async def put(self, entry: Any) -> None:
        self.calls.append("put")
        await super().put(entry)


@pytest.fixture
def cache_store() -> CountingCache:
    return CountingCache()


@pytest.fixture
def cache(cache_store: CountingCache, clock: FakeClock) -> ResultCache:
    return ResultCache(cache_store, {"job": TTL}, clock)


@pytest.fixture
async def engine(make_engine: MakeEngine, cache: ResultCache) -> Engine:
    engine = await make_engine(result_cache=cache)
    engine.apply_agent(agent_spec(max_concurrency=4))
    return engine


def configured(spec: AgentSpec, **config: Any) -> AgentSpec:
    return dataclasses.replace(spec, config=config)


async def run(engine: Engine, executor: StubExecutor, cache: ResultCache, **fields: Any) -> str:
    """Submit a task; if its agent starts, let it succeed with usage; settle everything."""
    task = await engine.submit(job(**fields))
    await settle(engine)
    await cache.drain()
    await settle(engine)
    if task.id in executor.running_ids():
        result = AttemptResult(Outcome.SUCCEEDED, {"text": f"made for {task.id}"}, tokens=120,
                               cost=0.25)  # fmt: skip
        executor.finish(task.id, result)
        await settle(engine)
        await cache.drain()
    return task.id


async def test_a_hit_returns_the_stored_result_without_running_the_agent(
    engine: Engine, executor: StubExecutor, store: MemoryStore, cache: ResultCache
) -> None:
    first = await run(engine, executor, cache, payload={"topic": "tea", "words": 50})
    second = await run(engine, executor, cache, payload={"words": 50, "topic": "tea"})

    assert started_ids(executor) == [first]  # the agent ran once for two submissions
    done = await stored(store, second)
    assert done.state is TaskState.SUCCEEDED
    assert done.result == {"text": f"made for {first}"}
    assert await outcomes(store, second) == [(1, Outcome.CACHED)]
    [hit] = await store.executions_for(second)
    assert (hit.agent_id, hit.tokens, hit.cost) == ("agent-1", None, None)  # nothing spent
    types = await event_types(store, second)
    assert types.index("task.cache_hit") < types.index("task.succeeded")
    [event] = [e for e in await store.events_for(second) if e.event_type == "task.cache_hit"]
    assert event.data is not None
    assert (event.data["tokens_saved"], event.data["cost_saved"]) == (120, 0.25)
    assert await cache.stats() == [CacheStats("job", 1, 1, 120, 0.25)]
    assert engine.state.agents["agent-1"].running == 0


async def test_another_payload_is_a_miss(
    engine: Engine, executor: StubExecutor, cache: ResultCache
) -> None:
    first = await run(engine, executor, cache, payload={"topic": "tea"})
    second = await run(engine, executor, cache, payload={"topic": "coffee"})
    assert started_ids(executor) == [first, second]
    assert await cache.stats() == [CacheStats("job", 0, 2, 0, 0.0)]


async def test_a_changed_agent_configuration_is_a_miss_and_a_budget_change_is_not(
    engine: Engine, executor: StubExecutor, cache: ResultCache
) -> None:
    spec = agent_spec(max_concurrency=4)
    engine.apply_agent(configured(spec, prompt="v1"))
    first = await run(engine, executor, cache, payload="same")
    engine.apply_agent(configured(spec, prompt="v1", budget={"tokens_per_day": 10_000}))
    await run(engine, executor, cache, payload="same")  # a budget changes no output: a hit
    engine.apply_agent(configured(spec, prompt="v2"))
    third = await run(engine, executor, cache, payload="same")
    assert started_ids(executor) == [first, third]


async def test_an_expired_entry_is_a_miss(
    engine: Engine, executor: StubExecutor, cache: ResultCache, clock: FakeClock
) -> None:
    first = await run(engine, executor, cache, payload=1)
    clock.advance(TTL - 1)
    await run(engine, executor, cache, payload=1)  # still live: a hit
    clock.advance(2)
    third = await run(engine, executor, cache, payload=1)
    assert started_ids(executor) == [first, third]


async def test_a_failed_attempt_is_not_cached(
    engine: Engine, executor: StubExecutor, store: MemoryStore, cache: ResultCache
) -> None:
    failing = await engine.submit(job(payload="x", max_attempts=1))
    await settle(engine)
    await cache.drain()
    await settle(engine)
    executor.fail(failing.id, retryable=False)
    await settle(engine)
    await cache.drain()
    assert (await stored(store, failing.id)).state is TaskState.FAILED
    second = await run(engine, executor, cache, payload="x")
    assert started_ids(executor) == [failing.id, second]


async def test_hits_teach_the_router_nothing(
    make_engine: MakeEngine, executor: StubExecutor, cache: ResultCache
) -> None:
    router = Router(random.Random(0))
    engine = await make_engine(result_cache=cache, policy=router)
    engine.apply_agent(agent_spec("a", max_concurrency=4))
    engine.apply_agent(agent_spec("b", max_concurrency=4))
    await run(engine, executor, cache, payload="p")
    assert router.seen == {"job": 1}
    before = {k: (a.total, a.post_n, a.post_successes) for k, a in router.arms.items()}
    for _ in range(5):  # a and b have the same type and configuration: both hit
        await run(engine, executor, cache, payload="p")
    assert len(executor.started) == 1
    assert await cache.stats() == [CacheStats("job", 5, 1, 600, 1.25)]
    assert router.seen == {"job": 1}  # the hits were not observed as attempts
    assert {k: (a.total, a.post_n, a.post_successes) for k, a in router.arms.items()} == before


async def test_types_that_did_not_opt_in_never_touch_the_cache(
    engine: Engine, executor: StubExecutor, cache_store: CountingCache, cache: ResultCache
) -> None:
    engine.apply_agent(agent_spec("other", ("report",)))
    for _ in range(2):
        await run(engine, executor, cache, type="report", payload="same")
    assert len(executor.started) == 2
    assert cache_store.calls == []
    assert await cache.stats() == []


async def test_a_task_cancelled_during_the_lookup_is_not_served(
    engine: Engine,
    executor: StubExecutor,
    store: MemoryStore,
    cache: ResultCache,
    cache_store: CountingCache,
) -> None:
    await run(engine, executor, cache, payload="c")
    cache_store.gate = asyncio.Event()  # the next lookup waits until the test opens it
    task = await engine.submit(job(payload="c"))
    await settle(engine)
    assert (await stored(store, task.id)).state is TaskState.RUNNING  # leased, looking up
    await engine.cancel(task.id)
    cache_store.gate.set()
    await settle(engine)
    await cache.drain()
    assert (await stored(store, task.id)).state is TaskState.CANCELLED
    assert await outcomes(store, task.id) == [(1, Outcome.CANCELLED)]
    assert started_ids(executor) == ["t0001"]
    assert engine.state.agents["agent-1"].running == 0


async def test_a_remote_agent_is_not_handed_a_task_the_cache_answers(
    engine: Engine, store: MemoryStore, cache: ResultCache
) -> None:
    engine.apply_agent(agent_spec(status=AgentStatus.PAUSED))  # only the remote one serves
    engine.apply_agent(agent_spec("remote-1", agent_type="remote"))
    task = await engine.submit(job(payload="r"))
    [lease] = await engine.lease("remote-1")
    done = await engine.complete(
        task.id, lease.token, AttemptResult(Outcome.SUCCEEDED, "R", tokens=7)
    )
    assert done.state is TaskState.SUCCEEDED
    await settle(engine)
    await cache.drain()

    again = await engine.submit(job(payload="r"))
    assert await engine.lease("remote-1") == []  # answered from the cache instead
    await settle(engine)
    served = await stored(store, again.id)
    assert (served.state, served.result) == (TaskState.SUCCEEDED, "R")
    assert await outcomes(store, again.id) == [(1, Outcome.CACHED)]
    await cache.drain()
    assert await cache.stats() == [CacheStats("job", 1, 1, 7, 0.0)]
    assert engine.state.agents["remote-1"].running == 0


def test_the_key_is_canonical_and_names_the_configuration() -> None:
    spec = configured(agent_spec(), model="m", temperature=0)
    version = config_version(spec)
    assert version == config_version(configured(spec, temperature=0, model="m"))
    assert version != config_version(configured(spec, model="n", temperature=0))
    assert version != config_version(dataclasses.replace(spec, type="llm"))
    assert version == config_version(dataclasses.replace(spec, max_concurrency=9))
    assert cache_key("t", {"a": 1, "b": [1, 2]}, version) == cache_key(
        "t", {"b": [1, 2], "a": 1}, version
    )
    assert cache_key("t", {"a": 1}, version) != cache_key("u", {"a": 1}, version)


@pytest.mark.parametrize(
    "payload",
    [
        {1: "one", "b": 2},  # keys of two types: canonical JSON cannot sort them
        {"when": datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)},  # orjson-only value
    ],
    ids=["mixed-keys", "datetime"],
)
async def test_a_payload_canonical_json_cannot_express_runs_its_agent_uncached(
    engine: Engine, executor: StubExecutor, store: MemoryStore, cache: ResultCache, payload: Any
) -> None:
    # The server accepts what orjson (OPT_NON_STR_KEYS) serialises; the cache key's
    # json.dumps(sort_keys=True) does not: the lookup task raised and the task stayed
    # RUNNING forever, holding its agent's slot, without its agent ever starting.
    first = await run(engine, executor, cache, payload=payload)
    second = await run(engine, executor, cache, payload=payload)
    assert started_ids(executor) == [first, second]  # both ran: nothing cached for them
    for task_id in (first, second):
        assert (await stored(store, task_id)).state is TaskState.SUCCEEDED
    assert engine.state.agents["agent-1"].running == 0
    engine.apply_agent(configured(agent_spec(max_concurrency=4), since=datetime.date(2026, 1, 1)))
    third = await run(engine, executor, cache, payload="plain")  # an odd config: same
    assert (await stored(store, third)).state is TaskState.SUCCEEDED


async def test_a_pinned_task_runs_its_agent_even_when_the_cache_has_its_result(
    engine: Engine, executor: StubExecutor, store: MemoryStore, cache: ResultCache
) -> None:
    # Custody tests and team members are pinned: a stored answer would give an agent XP it
    # did not earn, and make a team's independent members agree by construction.
    first = await run(engine, executor, cache, payload="q")
    pinned = await run(engine, executor, cache, payload="q", pinned_agent="agent-1")
    assert started_ids(executor) == [first, pinned]
    assert await outcomes(store, pinned) == [(1, Outcome.SUCCEEDED)]
    assert await cache.stats() == [CacheStats("job", 0, 1, 0, 0.0)]  # not even looked up


async def test_a_remote_agent_is_handed_a_pinned_task_the_cache_could_answer(
    engine: Engine, store: MemoryStore, cache: ResultCache
) -> None:
    engine.apply_agent(agent_spec(status=AgentStatus.PAUSED))
    engine.apply_agent(agent_spec("remote-1", agent_type="remote"))
    task = await engine.submit(job(payload="r"))
    [lease] = await engine.lease("remote-1")
    await engine.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED, "R"))
    await settle(engine)
    await cache.drain()
    pinned = await engine.submit(job(payload="r", pinned_agent="remote-1"))
    [again] = await engine.lease("remote-1")
    assert again.task_id == pinned.id
