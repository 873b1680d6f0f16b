"""Fixtures for unit tests of the engine: a fake clock, the in-memory store, the stub
executor, and a factory for started engines that are always stopped at teardown.

Background loops are effectively off (``tick`` and ``poll_interval`` of an hour, retry
backoff without jitter), so a test moves time itself: ``clock.advance(...)`` then
``engine.process_timers()``, and ``await settle(engine)`` to let dispatch run and its
changes become durable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.retry import RetryPolicy
from imperium.domain.selection import SelectionPolicy
from imperium.domain.specs import TaskSpec
from imperium.domain.states import AgentStatus, Outcome
from imperium.ports import EventSink
from imperium.services.engine import Engine, EngineConfig
from imperium.services.engine.cache import ResultCache
from imperium.services.engine.lock import SchedulerLock

START = 1_700_000_000.0
LEASE_SECONDS = 15.0
LOCK_TTL = 30.0
RETRY = RetryPolicy(base=10.0, factor=2.0, cap=300.0, jitter=0.0)
"""Backoff of 10 s after the first failed attempt, 20 s after the second, ..."""


class FakeClock:
    """A clock that moves only when the test says so: ``advance`` moves the wall clock and
    the monotonic one together, ``step_wall`` the wall clock alone (an NTP step)."""

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._monotonic = 1000.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> float:
        self._now += seconds
        self._monotonic += seconds
        return self._now

    def step_wall(self, seconds: float) -> float:
        self._now += seconds
        return self._now


class CountingIds:
    """``new_id``: t0001, t0002, ... (shared by every engine of a test, like uuids)."""

    def __init__(self) -> None:
        self.issued = 0

    def __call__(self) -> str:
        self.issued += 1
        return f"t{self.issued:04d}"


def make_config(**overrides: Any) -> EngineConfig:
    config = EngineConfig(
        lease_seconds=LEASE_SECONDS,
        lock_ttl=LOCK_TTL,
        poll_interval=3600.0,
        tick=3600.0,
        drain_seconds=0.0,
        retry=RETRY,
    )
    return dataclasses.replace(config, **overrides)


def agent_spec(
    agent_id: str = "agent-1",
    capabilities: Iterable[str] = ("job",),
    *,
    agent_type: str = "stub",
    max_concurrency: int = 1,
    status: AgentStatus = AgentStatus.ACTIVE,
    resources: dict[str, float] | None = None,
    priority: str = "medium",
) -> AgentSpec:
    return AgentSpec(
        id=agent_id,
        type=agent_type,
        capabilities=frozenset(capabilities),
        priority=priority,
        max_concurrency=max_concurrency,
        resources=resources or {},
        status=status,
    )


def job(**fields: Any) -> TaskSpec:
    """A task of type ``job`` (so it needs capability ``job`` unless told otherwise)."""
    return TaskSpec(type=fields.pop("type", "job"), **fields)


async def settle(engine: Engine, rounds: int = 3) -> None:
    """Let dispatch run and what it changed become durable (after-commit actions start
    the attempts)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
        await engine.journal.commit()


async def eventually(check: Callable[[], object]) -> None:
    """Wait (10 s at most) until ``check()`` holds: for state that a background loop (the
    journal's writer retrying) changes in real time and no event announces."""
    async with asyncio.timeout(10.0):
        while not check():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await asyncio.sleep(0.001)


async def stored(store: MemoryStore, task_id: str) -> Task:
    task = await store.get_task(task_id)
    assert task is not None, f"task {task_id} is not in the store"
    return task


async def executions(store: MemoryStore, task_id: str) -> list[Execution]:
    return await store.executions_for(task_id)


async def outcomes(store: MemoryStore, task_id: str) -> list[tuple[int, Outcome]]:
    return [(e.attempt, e.outcome) for e in await store.executions_for(task_id)]


async def events(store: MemoryStore, task_id: str) -> list[Event]:
    return await store.events_for(task_id)


async def event_types(store: MemoryStore, task_id: str) -> list[str]:
    return [e.event_type for e in await store.events_for(task_id)]


def started_ids(executor: StubExecutor) -> list[str]:
    return [a.task_id for a in executor.started]


async def run_one_at_a_time(engine: Engine, executor: StubExecutor) -> list[str]:
    """Finish whatever runs, one attempt at a time, until nothing runs; the start order."""
    order: list[str] = []
    while True:
        await settle(engine)
        running = executor.running_ids()
        if not running:
            return order
        assert len(running) == 1, f"expected one attempt at a time, got {running}"
        order.append(running[0])
        executor.finish(running[0])


class MakeEngine(Protocol):
    def __call__(
        self,
        *,
        store: MemoryStore = ...,
        executor: StubExecutor = ...,
        owner: str = ...,
        config: EngineConfig | None = ...,
        policy: SelectionPolicy | None = ...,
        lock: SchedulerLock | None = ...,
        agents: Iterable[AgentSpec] = ...,
        start: bool = ...,
        events: EventSink | None = ...,
        result_cache: ResultCache | None = ...,
    ) -> Awaitable[Engine]: ...


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def new_id() -> CountingIds:
    return CountingIds()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def executor() -> StubExecutor:
    return StubExecutor()


@pytest.fixture
async def make_engine(
    store: MemoryStore, executor: StubExecutor, clock: FakeClock, new_id: CountingIds
) -> AsyncIterator[MakeEngine]:
    """Build (and by default start) engines; each is stopped with ``drain=0`` at teardown."""
    built: list[Engine] = []

    async def make(
        *,
        store: MemoryStore = store,
        executor: StubExecutor = executor,
        owner: str = "owner-x",
        config: EngineConfig | None = None,
        policy: SelectionPolicy | None = None,
        lock: SchedulerLock | None = None,
        agents: Iterable[AgentSpec] = (),
        start: bool = True,
        events: EventSink | None = None,
        result_cache: ResultCache | None = None,
    ) -> Engine:
        for spec in agents:
            await store.insert_agent(spec)
        lock = lock or SchedulerLock(store, clock, owner, LOCK_TTL)
        engine = Engine(
            store, executor, lock, clock, random.Random(0), new_id, config or make_config(), policy,
            events=events, result_cache=result_cache,
        )  # fmt: skip
        if start:
            await engine.start()  # an engine that failed to start has nothing to stop
        built.append(engine)
        return engine

    yield make
    for engine in reversed(built):
        if not engine.stopped.is_set():
            await asyncio.wait_for(engine.stop(drain=0), timeout=10)


@pytest.fixture
async def engine(make_engine: MakeEngine) -> Engine:
    """A started engine on ``store`` and ``executor`` with no agents."""
    return await make_engine()
