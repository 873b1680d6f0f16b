"""One scheduler per database: a second one refuses to start (or waits as a standby), and
a scheduler whose lock was taken over stops writing and stops."""

from __future__ import annotations

import asyncio

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import LockLostError, SchedulerLockError
from imperium.ports import TaskFilter
from imperium.services.engine.journal import JournalClosedError
from imperium.services.engine.lock import SchedulerLock

from .conftest import LOCK_TTL, FakeClock, MakeEngine, agent_spec, job, settle, started_ids


class QuickStandbyLock(SchedulerLock):
    """The real lock, polling every 10 ms instead of every second while on standby."""

    async def acquire(self, *, wait: bool, poll: float = 0.01) -> None:
        await super().acquire(wait=wait, poll=poll)


async def test_a_second_scheduler_refuses_to_start(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    await make_engine(owner="owner-x")
    clock.advance(LOCK_TTL - 1)  # the holder's lock is still valid
    with pytest.raises(SchedulerLockError, match=r"owner-x .*--standby"):
        await make_engine(owner="owner-y", executor=StubExecutor())
    lock = await store.read_lock()
    assert lock is not None
    assert lock.owner == "owner-x"


async def test_a_standby_starts_once_the_first_stops(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    first = await make_engine(owner="owner-x", agents=[agent_spec()])
    left_over = await first.submit(job(type="later"))  # nobody can run it yet

    standby_executor = StubExecutor()
    standby = await make_engine(
        owner="owner-y",
        executor=standby_executor,
        lock=QuickStandbyLock(store, clock, "owner-y", LOCK_TTL),
        start=False,
    )
    starting = asyncio.create_task(standby.start(standby=True))
    await asyncio.sleep(0.05)  # a few polls
    assert not starting.done()

    await first.stop(drain=0)
    await asyncio.wait_for(starting, timeout=2)
    lock = await store.read_lock()
    assert lock is not None
    assert lock.owner == "owner-y"

    standby.apply_agent(agent_spec("later-agent", capabilities=("later",)))
    await settle(standby)
    assert started_ids(standby_executor) == [left_over.id]


async def test_a_scheduler_whose_lock_was_taken_over_stops(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock, executor: StubExecutor
) -> None:
    first = await make_engine(owner="owner-x", agents=[agent_spec()])
    clock.advance(LOCK_TTL + 1)  # it stopped renewing (say, a long GC pause)
    second = await make_engine(owner="owner-y", executor=StubExecutor())

    with pytest.raises(JournalClosedError, match="no longer holds the database lock"):
        await first.submit(job())
    await asyncio.wait_for(first.failed.wait(), timeout=1)
    assert isinstance(first.journal.failed, LockLostError)
    assert await store.list_tasks(TaskFilter()) == []  # the refused batch wrote nothing
    with pytest.raises(JournalClosedError):
        await first.journal.commit()  # nothing more can be written

    lock = await store.read_lock()
    assert lock is not None
    assert lock.owner == "owner-y"
    assert executor.started == []
    await second.submit(job())  # the new holder works normally
    assert len(await store.list_tasks(TaskFilter())) == 1


async def test_a_scheduler_that_lost_its_lock_stops_its_local_attempts(
    make_engine: MakeEngine, clock: FakeClock, executor: StubExecutor
) -> None:
    first = await make_engine(owner="owner-x", agents=[agent_spec()])
    await first.submit(job())
    await settle(first)
    assert len(executor.running_ids()) == 1

    clock.advance(LOCK_TTL + 1)
    await make_engine(owner="owner-y", executor=StubExecutor())
    with pytest.raises(JournalClosedError):
        await first.journal.commit()
    await asyncio.wait_for(first.failed.wait(), timeout=1)

    await first.stop(drain=0)
    assert executor.running_ids() == []
    assert executor.closed
