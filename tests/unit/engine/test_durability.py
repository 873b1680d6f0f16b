"""Invariant 1: an acknowledged submission is durable — nothing the outside world can
observe (an acknowledgement, an attempt starting, a waiter waking) happens before the
group commit that records it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import AttemptResult
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.states import Outcome, TaskState
from imperium.ports import TaskFilter, WriteBatch
from imperium.services.engine import Engine

from .conftest import MakeEngine, agent_spec, job, settle, stored


class GatedStore(MemoryStore):
    """A MemoryStore whose ``apply`` waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = 0

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        self.waiting += 1
        await self.gate.wait()
        self.waiting -= 1
        await super().apply(batch, owner, lock_expires_at)


@pytest.fixture
async def gated(make_engine: MakeEngine) -> AsyncIterator[tuple[GatedStore, Engine]]:
    """An engine on a GatedStore; the gate opens again before the engine is stopped (this
    fixture depends on ``make_engine``, so it is torn down first), even if a test fails."""
    store = GatedStore()
    engine = await make_engine(store=store)
    yield store, engine
    store.gate.set()


async def spin(times: int = 20) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


async def all_tasks(store: MemoryStore) -> list[str]:
    return [t.id for t in await store.list_tasks(TaskFilter(limit=1000))]


async def test_submit_returns_only_after_the_batch_is_committed(
    gated: tuple[GatedStore, Engine],
) -> None:
    store, engine = gated
    store.gate.clear()

    submitting = asyncio.create_task(engine.submit(job(payload={"n": 1})))
    await spin()

    assert store.waiting == 1, "the writer should be inside apply, held by the gate"
    assert not submitting.done()
    assert await all_tasks(store) == []

    store.gate.set()
    task = await asyncio.wait_for(submitting, timeout=2)
    saved = await stored(store, task.id)
    assert saved.state is TaskState.QUEUED
    assert saved.payload == {"n": 1}


async def test_submit_many_and_workflows_wait_for_the_commit_too(
    gated: tuple[GatedStore, Engine],
) -> None:
    store, engine = gated
    store.gate.clear()

    many = asyncio.create_task(engine.submit_many([job(), job()]))
    flow = asyncio.create_task(
        engine.submit_workflow(
            WorkflowSpec((TaskSpec("job", name="a"), TaskSpec("job", name="b", depends_on=("a",))))
        )
    )
    await spin()
    assert not many.done()
    assert not flow.done()
    assert await all_tasks(store) == []

    store.gate.set()
    tasks = await asyncio.wait_for(many, timeout=2)
    _, (a, b) = await asyncio.wait_for(flow, timeout=2)
    assert [(await stored(store, t.id)).state for t in tasks] == [TaskState.QUEUED] * 2
    assert (await stored(store, a.id)).state is TaskState.QUEUED
    assert (await stored(store, b.id)).state is TaskState.PENDING


async def test_an_attempt_starts_only_after_its_running_state_is_durable(
    gated: tuple[GatedStore, Engine], executor: StubExecutor
) -> None:
    store, engine = gated
    task = await engine.submit(job())
    store.gate.clear()

    engine.apply_agent(agent_spec())
    await spin()

    assert engine.state.tasks[task.id].state is TaskState.RUNNING  # decided in memory ...
    assert executor.started == []  # ... but not acted upon
    assert (await stored(store, task.id)).state is TaskState.QUEUED

    store.gate.set()
    await settle(engine)
    assert [a.task_id for a in executor.started] == [task.id]
    assert (await stored(store, task.id)).state is TaskState.RUNNING


async def test_a_completion_and_wait_for_return_only_once_the_outcome_is_durable(
    gated: tuple[GatedStore, Engine],
) -> None:
    store, engine = gated
    engine.apply_agent(agent_spec("remote-1", agent_type="remote"))
    task = await engine.submit(job())
    [lease] = await engine.lease("remote-1")
    store.gate.clear()

    waiting = asyncio.create_task(engine.wait_for(task.id))
    completing = asyncio.create_task(
        engine.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED, "done"))
    )
    await spin()
    assert not completing.done()
    assert not waiting.done()
    assert (await stored(store, task.id)).state is TaskState.RUNNING
    assert await store.executions_for(task.id) == []

    store.gate.set()
    finished = await asyncio.wait_for(completing, timeout=2)
    assert finished.state is TaskState.SUCCEEDED
    assert (await asyncio.wait_for(waiting, timeout=2)).state is TaskState.SUCCEEDED
    saved = await stored(store, task.id)
    assert (saved.state, saved.result) == (TaskState.SUCCEEDED, "done")
