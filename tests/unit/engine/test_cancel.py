"""Cancellation of queued, pending and running tasks; a finished task cannot be cancelled."""

from __future__ import annotations

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError, NotFoundError, StaleLeaseError
from imperium.domain.models import AttemptResult
from imperium.domain.states import AgentStatus, Outcome, TaskState
from imperium.services.engine import Engine

from .conftest import RETRY, FakeClock, agent_spec, job, outcomes, settle, started_ids, stored


async def test_cancelling_a_queued_task(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    spec = agent_spec(status=AgentStatus.PAUSED)
    engine.apply_agent(spec)
    task = await engine.submit(job())
    cancelled = await engine.cancel(task.id)
    assert cancelled.state is TaskState.CANCELLED

    saved = await stored(store, task.id)
    assert (saved.state, saved.error_kind) == (TaskState.CANCELLED, "cancelled")
    assert saved.finished_at is not None
    assert await store.executions_for(task.id) == []

    engine.apply_agent(agent_spec())  # active again: the cancelled task must not run
    await settle(engine)
    assert executor.started == []


async def test_cancelling_a_task_waiting_out_its_backoff(
    engine: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(agent_spec())
    task = await engine.submit(job())
    await settle(engine)
    executor.fail(task.id)
    await settle(engine)
    await engine.cancel(task.id)
    clock.advance(RETRY.delay(1, 0.0))
    engine.process_timers()
    await settle(engine)
    assert started_ids(executor) == [task.id]
    assert (await stored(store, task.id)).state is TaskState.CANCELLED
    assert await outcomes(store, task.id) == [(1, Outcome.FAILED)]


async def test_cancelling_a_running_task_stops_it_and_frees_its_slot(
    engine: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(agent_spec(max_concurrency=1))
    running, waiting = await engine.submit_many([job(), job()])
    await settle(engine)
    assert started_ids(executor) == [running.id]

    clock.advance(3)
    await engine.cancel(running.id)
    await settle(engine)

    assert executor.cancelled == [running.id]
    [row] = await store.executions_for(running.id)
    assert (row.attempt, row.outcome, row.agent_id, row.duration) == (
        1,
        Outcome.CANCELLED,
        "agent-1",
        3.0,
    )
    assert (await stored(store, running.id)).state is TaskState.CANCELLED
    assert started_ids(executor) == [running.id, waiting.id]
    assert engine.state.agents["agent-1"].running == 1


async def test_a_cancelled_remote_lease_cannot_complete(engine: Engine, store: MemoryStore) -> None:
    engine.apply_agent(agent_spec("remote-1", agent_type="remote"))
    task = await engine.submit(job())
    [lease] = await engine.lease("remote-1")
    await engine.cancel(task.id)
    with pytest.raises(StaleLeaseError):
        await engine.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED))
    assert await outcomes(store, task.id) == [(1, Outcome.CANCELLED)]
    assert engine.state.agents["remote-1"].running == 0


async def test_cancelling_a_pending_task_leaves_its_dependency_alone(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine.apply_agent(agent_spec(max_concurrency=2))
    a = await engine.submit(job())
    b = await engine.submit(job(depends_on=(a.id,)))
    await engine.cancel(b.id)
    await settle(engine)
    executor.finish(a.id)
    await settle(engine)
    assert started_ids(executor) == [a.id]
    assert (await stored(store, a.id)).state is TaskState.SUCCEEDED
    assert (await stored(store, b.id)).state is TaskState.CANCELLED


async def test_cancelling_a_finished_task_is_a_conflict(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine.apply_agent(agent_spec())
    task = await engine.submit(job())
    await settle(engine)
    executor.finish(task.id)
    await settle(engine)
    with pytest.raises(ConflictError, match="already ended succeeded"):
        await engine.cancel(task.id)
    assert (await stored(store, task.id)).state is TaskState.SUCCEEDED

    queued = await engine.submit(job(type="nobody-runs-this"))
    await engine.cancel(queued.id)
    with pytest.raises(ConflictError, match="already ended cancelled"):
        await engine.cancel(queued.id)


async def test_cancelling_an_unknown_task(engine: Engine) -> None:
    with pytest.raises(NotFoundError):
        await engine.cancel("no-such-task")
