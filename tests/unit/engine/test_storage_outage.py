"""The database stops taking writes for a while (unreachable, disk full): the scheduler
rides it out. New work is refused at once with the cause, dispatch pauses, running
attempts are recorded once writes work again, and nothing acknowledged is lost."""

from __future__ import annotations

import asyncio

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import AttemptResult
from imperium.domain.states import Outcome, TaskState
from imperium.ports import WriteBatch
from imperium.services.engine import Engine
from imperium.services.engine.journal import StorageUnavailableError

from .conftest import (
    FakeClock,
    MakeEngine,
    agent_spec,
    eventually,
    job,
    outcomes,
    settle,
    stored,
)


class FlakyStore(MemoryStore):
    """A store whose writes fail while ``down``."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        if self.down:
            raise ConnectionRefusedError("connect call failed ('127.0.0.1', 5432)")
        await super().apply(batch, owner, lock_expires_at)


async def outage(engine: Engine, store: FlakyStore, clock: FakeClock) -> None:
    """Take the database away until the scheduler declares the outage."""
    store.down = True
    engine.journal.after_commit(lambda: None)  # something to write

    def failing_long_enough() -> bool:
        clock.advance(0.1)  # time passes while the writer retries
        return engine.journal.outage is not None

    await eventually(failing_long_enough)


@pytest.fixture
def store() -> FlakyStore:
    return FlakyStore()


async def test_work_is_refused_at_once_and_dispatch_pauses_until_writes_work_again(
    make_engine: MakeEngine, store: FlakyStore, executor: StubExecutor, clock: FakeClock
) -> None:
    engine = await make_engine(agents=[agent_spec()])
    running = await engine.submit(job())
    await settle(engine)
    assert executor.running_ids() == [running.id]
    waiting = asyncio.create_task(engine.submit(job(payload="admitted before")))
    await asyncio.sleep(0)
    await outage(engine, store, clock)
    assert engine.journal.outage == "database unreachable: connect call failed ('127.0.0.1', 5432)"

    with pytest.raises(StorageUnavailableError, match="database unreachable"):
        await engine.submit(job(payload="refused"))
    executor.finish(running.id)  # an attempt that ends during the outage
    await asyncio.sleep(0.05)
    assert executor.running_ids() == []  # the freed slot is not used: dispatch is paused
    assert not waiting.done()  # not acknowledged: it is not committed

    store.down = False
    admitted = await asyncio.wait_for(waiting, timeout=10)
    await settle(engine)
    assert engine.journal.outage is None
    assert executor.running_ids() == [admitted.id]  # dispatch resumed
    assert (await stored(store, running.id)).state is TaskState.SUCCEEDED
    assert await outcomes(store, running.id) == [(1, Outcome.SUCCEEDED)]
    recovered = [e for e in store.state.events if e.event_type == "scheduler.storage_recovered"]
    assert [e.data["cause"] for e in recovered if e.data] == [
        "database unreachable: connect call failed ('127.0.0.1', 5432)"
    ]


async def test_remote_workers_back_off_and_keep_their_leases_through_an_outage(
    make_engine: MakeEngine, store: FlakyStore, clock: FakeClock
) -> None:
    remote = agent_spec("remote-1", agent_type="remote")
    engine = await make_engine(executor=StubExecutor(), agents=[remote])
    task = await engine.submit(job())
    [lease] = await engine.lease("remote-1")
    await outage(engine, store, clock)

    with pytest.raises(StorageUnavailableError):
        await engine.lease("remote-1", wait=5.0)  # not an empty answer to poll again at once
    for _ in range(4):  # heartbeats keep the lease alive, though they cannot be stored
        clock.advance(10.0)
        await asyncio.wait_for(engine.heartbeat("remote-1", task.id, lease.token), timeout=1)
        engine.process_timers()
    with pytest.raises(StorageUnavailableError):  # refused before anything changed ...
        await engine.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED))
    assert engine.state.tasks[task.id].state is TaskState.RUNNING

    store.down = False
    await eventually(lambda: engine.journal.outage is None)
    await engine.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED))  # ... sent again
    assert await outcomes(store, task.id) == [(1, Outcome.SUCCEEDED)]
