"""Invariant 7: crash-safe. After the scheduler process dies (``kill -9``), a new one
takes the lock once it expires, re-queues the attempts the dead one left running (one
``lost`` execution each, not charged to the task but counted against a limit of its
own), runs what was queued, and loses or records twice nothing. A graceful stop
interrupts local attempts and re-queues them."""

from __future__ import annotations

import asyncio

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import SchedulerLockError
from imperium.domain.models import AttemptResult, Task
from imperium.domain.specs import WorkflowSpec
from imperium.domain.states import Outcome, TaskState
from imperium.services.engine import Engine

from .conftest import (
    LEASE_SECONDS,
    LOCK_TTL,
    RETRY,
    FakeClock,
    MakeEngine,
    agent_spec,
    event_types,
    executions,
    job,
    make_config,
    outcomes,
    run_one_at_a_time,
    settle,
    started_ids,
    stored,
)


async def crash(engine: Engine) -> None:
    """``kill -9``: the loops and the writer die mid-flight; whatever was only in memory is
    lost, and the lock is neither released nor renewed any more."""
    engine._dispatching = False
    doomed = [*engine._loops, *([engine._writer] if engine._writer else [])]
    for loop_task in doomed:
        loop_task.cancel()
    await asyncio.gather(*doomed, return_exceptions=True)
    engine.stopped.set()  # the process is gone: nothing may stop it again


async def test_a_new_scheduler_takes_over_after_a_crash(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    old_executor = StubExecutor()
    old = await make_engine(
        owner="owner-a", executor=old_executor, agents=[agent_spec(max_concurrency=2)]
    )
    done = await old.submit(job(payload="done"))
    await settle(old)
    old_executor.finish(done.id)
    await settle(old)
    running = await old.submit_many([job(payload="r1"), job(payload="r2")])
    queued = await old.submit_many([job(payload="q1"), job(payload="q2")])
    pending = await old.submit(job(payload="p", depends_on=(running[0].id,)))
    await settle(old)
    assert old_executor.running_ids() == [t.id for t in running]
    await crash(old)

    new_executor = StubExecutor()
    with pytest.raises(SchedulerLockError, match="owner-a"):
        await make_engine(owner="owner-b", executor=new_executor)
    clock.advance(LOCK_TTL + 1)
    new = await make_engine(owner="owner-b", executor=new_executor)
    lock = await store.read_lock()
    assert lock is not None
    assert lock.owner == "owner-b"

    order = await run_one_at_a_time_on_two_slots(new, new_executor)
    everything = [*running, *queued, pending]
    assert sorted(order) == sorted(t.id for t in everything)  # each ran exactly once
    assert order.index(pending.id) > order.index(running[0].id)
    assert started_ids(old_executor) == [done.id, *(t.id for t in running)]  # nothing new

    for task in running:
        saved = await stored(store, task.id)
        # the lost attempt counts (a task that kills the scheduler cannot loop forever)
        assert (saved.state, saved.attempts, saved.max_attempts) == (TaskState.SUCCEEDED, 2, 3)
        assert await outcomes(store, task.id) == [(1, Outcome.LOST), (2, Outcome.SUCCEEDED)]
        [lost] = (await store.executions_for(task.id))[:1]
        assert (lost.error_kind, lost.agent_id) == ("scheduler_restart", "agent-1")
        assert "task.requeued" in await event_types(store, task.id)
    for task in [*queued, pending]:
        assert (await stored(store, task.id)).state is TaskState.SUCCEEDED
        assert await outcomes(store, task.id) == [(1, Outcome.SUCCEEDED)]
    assert await outcomes(store, done.id) == [(1, Outcome.SUCCEEDED)]
    assert done.id not in started_ids(new_executor)


async def run_one_at_a_time_on_two_slots(engine: Engine, executor: StubExecutor) -> list[str]:
    """Finish the oldest running attempt until nothing runs; the order they finished."""
    order: list[str] = []
    while True:
        await settle(engine)
        if not executor.running_ids():
            return order
        first = executor.running_ids()[0]
        order.append(first)
        executor.finish(first)


async def test_a_crash_loses_no_acknowledged_submission(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    old = await make_engine(owner="owner-a", executor=StubExecutor())
    acknowledged = await old.submit_many([job(payload=i) for i in range(20)])
    await crash(old)
    clock.advance(LOCK_TTL + 1)
    new_executor = StubExecutor()
    new = await make_engine(owner="owner-b", executor=new_executor)
    new.apply_agent(agent_spec(max_concurrency=20))
    await settle(new)
    assert sorted(started_ids(new_executor)) == sorted(t.id for t in acknowledged)


async def test_an_unexpired_remote_lease_survives_the_crash(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    config = make_config(lease_seconds=120.0)
    remote = agent_spec("remote-1", agent_type="remote")
    old = await make_engine(
        owner="owner-a", executor=StubExecutor(), config=config, agents=[remote]
    )
    task = await old.submit(job())
    [lease] = await old.lease("remote-1")
    await crash(old)

    clock.advance(LOCK_TTL + 1)
    new = await make_engine(owner="owner-b", executor=StubExecutor(), config=config)
    assert new.state.tasks[task.id].state is TaskState.RUNNING
    assert await new.lease("remote-1") == []  # its one slot is still taken
    done = await new.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED, "ok"))
    assert done.state is TaskState.SUCCEEDED
    assert await outcomes(store, task.id) == [(1, Outcome.SUCCEEDED)]


async def test_a_lease_that_expired_while_the_scheduler_was_down_gets_a_new_period(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    """Not the worker's fault: its report was refused while nothing listened. The new
    scheduler accepts the late result for the same token; only a lease left silent for a
    whole period after the restart is lost."""
    remote = agent_spec("remote-1", agent_type="remote", max_concurrency=2)
    old = await make_engine(owner="owner-a", executor=StubExecutor(), agents=[remote])
    late, silent = await old.submit_many([job(payload="late"), job(payload="silent")])
    first = {lease.task_id: lease for lease in await old.lease("remote-1", max_tasks=2)}
    await crash(old)

    clock.advance(LOCK_TTL + 1)  # past the 15 s lease too
    new = await make_engine(owner="owner-b", executor=StubExecutor())
    await settle(new)
    assert new.state.tasks[late.id].state is TaskState.RUNNING
    await new.complete(late.id, first[late.id].token, AttemptResult(Outcome.SUCCEEDED))
    assert await outcomes(store, late.id) == [(1, Outcome.SUCCEEDED)]

    clock.advance(LEASE_SECONDS + 1)  # a whole period after the restart, still silent
    new.process_timers()
    await settle(new)
    clock.advance(RETRY.base)  # its retry backoff
    new.process_timers()
    [again] = await new.lease("remote-1")
    assert (again.task_id, again.attempt) == (silent.id, 2)
    assert await outcomes(store, silent.id) == [(1, Outcome.LOST)]
    assert (await executions(store, silent.id))[0].error_kind == "lease_expired"


async def test_a_resumed_remote_lease_still_times_out(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    config = make_config(lease_seconds=120.0)
    remote = agent_spec("remote-1", agent_type="remote")
    old = await make_engine(
        owner="owner-a", executor=StubExecutor(), config=config, agents=[remote]
    )
    task = await old.submit(job(timeout=60.0, max_attempts=1))
    [lease] = await old.lease("remote-1")
    await crash(old)

    clock.advance(LOCK_TTL + 1)
    new = await make_engine(owner="owner-b", executor=StubExecutor(), config=config)
    await new.heartbeat("remote-1", task.id, lease.token)
    clock.advance(30)  # 61 s after the attempt started
    new.process_timers()
    await settle(new)
    assert (await stored(store, task.id)).state is TaskState.TIMED_OUT
    assert await outcomes(store, task.id) == [(1, Outcome.TIMED_OUT)]


class ReversedLoadStore(MemoryStore):
    """Returns active tasks newest first: the Store port promises no order (the SQL store
    has no ORDER BY, and PostgreSQL returns updated rows in heap order)."""

    async def load_active_tasks(self) -> list[Task]:
        return list(reversed(await super().load_active_tasks()))


async def test_a_pending_task_survives_a_restart_whatever_the_load_order(
    make_engine: MakeEngine, clock: FakeClock
) -> None:
    store = ReversedLoadStore()
    old = await make_engine(owner="owner-a", store=store, executor=StubExecutor())
    a = await old.submit(job())  # no agent: stays queued
    b = await old.submit(job(depends_on=(a.id,)))
    await old.stop(drain=0)

    new = await make_engine(owner="owner-b", store=store, executor=StubExecutor())
    await settle(new)
    saved = await stored(store, b.id)
    assert (saved.state, saved.error_kind) == (TaskState.PENDING, None)


async def test_a_graceful_stop_interrupts_local_attempts_without_charging_them(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    first_executor = StubExecutor()
    first = await make_engine(executor=first_executor, agents=[agent_spec(max_concurrency=2)])
    running = await first.submit(job(max_attempts=3))
    await settle(first)
    clock.advance(7)
    await first.stop(drain=0)

    assert first_executor.cancelled == [running.id]
    assert first_executor.closed
    assert await store.read_lock() is None
    saved = await stored(store, running.id)
    assert (saved.state, saved.attempts, saved.max_attempts) == (TaskState.QUEUED, 1, 4)
    [row] = await store.executions_for(running.id)
    assert (row.outcome, row.error_kind, row.duration) == (Outcome.INTERRUPTED, "shutdown", 7.0)
    assert (await event_types(store, running.id))[-1] == "task.interrupted"

    second_executor = StubExecutor()
    second = await make_engine(executor=second_executor)
    await settle(second)
    assert [(a.task_id, a.attempt) for a in second_executor.started] == [(running.id, 2)]
    second_executor.finish(running.id)
    await settle(second)
    assert await outcomes(store, running.id) == [(1, Outcome.INTERRUPTED), (2, Outcome.SUCCEEDED)]


async def test_a_graceful_stop_leaves_remote_leases_running(
    make_engine: MakeEngine, store: MemoryStore
) -> None:
    engine = await make_engine(agents=[agent_spec("remote-1", agent_type="remote")])
    task = await engine.submit(job())
    await engine.lease("remote-1")
    await engine.stop(drain=0)
    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts) == (TaskState.RUNNING, 1)
    assert await store.executions_for(task.id) == []


async def test_recovery_keeps_priority_and_backoff(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    first_executor = StubExecutor()
    first = await make_engine(executor=first_executor, agents=[agent_spec()])
    flaky = await first.submit(job())
    await settle(first)
    first_executor.fail(flaky.id)
    await settle(first)
    await first.stop(drain=0)

    second_executor = StubExecutor()
    second = await make_engine(executor=second_executor)
    await settle(second)
    assert second_executor.started == []  # still in its backoff
    clock.advance(10)
    second.process_timers()
    order = await run_one_at_a_time(second, second_executor)
    assert order == [flaky.id]
    assert await outcomes(store, flaky.id) == [(1, Outcome.FAILED), (2, Outcome.SUCCEEDED)]


async def test_a_restart_is_not_charged_as_an_attempt(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    old_executor = StubExecutor()
    old = await make_engine(owner="owner-a", executor=old_executor, agents=[agent_spec()])
    task = await old.submit(job(max_attempts=1))
    await settle(old)
    await crash(old)
    clock.advance(LOCK_TTL + 1)
    executor = StubExecutor()
    new = await make_engine(owner="owner-b", executor=executor)
    await settle(new)
    assert executor.running_ids() == [task.id]  # its only attempt was the scheduler's loss
    executor.finish(task.id)
    await settle(new)
    done = await stored(store, task.id)
    assert (done.state, done.attempts, done.restarts) == (TaskState.SUCCEEDED, 2, 1)
    assert await outcomes(store, task.id) == [(1, Outcome.LOST), (2, Outcome.SUCCEEDED)]


async def test_a_crash_loop_kills_no_innocent_task(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    """Ten crashes in a row, each while the same attempt runs: the task still has all its
    attempts for its agent's own failures."""
    engine = await make_engine(owner="owner-0", agents=[agent_spec()])
    task = await engine.submit(job(max_attempts=2))
    for owner in range(1, 11):
        await settle(engine)
        await crash(engine)
        clock.advance(LOCK_TTL + 1)
        engine = await make_engine(owner=f"owner-{owner}", executor=StubExecutor())
    await settle(engine)
    assert (await stored(store, task.id)).state is TaskState.RUNNING
    assert (await stored(store, task.id)).restarts == 10


async def test_a_task_lost_to_more_restarts_than_allowed_ends_dead_with_its_dependents(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    config = make_config(max_restarts=1)
    old = await make_engine(owner="owner-a", config=config, agents=[agent_spec()])
    _, (poison, after) = await old.submit_workflow(
        WorkflowSpec((job(name="poison"), job(name="after", depends_on=("poison",))))
    )
    await settle(old)
    await crash(old)
    clock.advance(LOCK_TTL + 1)
    second = await make_engine(owner="owner-b", executor=StubExecutor(), config=config)
    await settle(second)
    assert (await stored(store, poison.id)).state is TaskState.RUNNING  # once is allowed
    await crash(second)
    clock.advance(LOCK_TTL + 1)
    new = await make_engine(owner="owner-c", executor=StubExecutor(), config=config)
    await new.journal.commit()

    dead = await stored(store, poison.id)
    assert (dead.state, dead.restarts, dead.error_kind) == (TaskState.DEAD, 2, "scheduler_restart")
    assert "IMPERIUM_MAX_RESTARTS=1" in (dead.error_message or "")
    assert await outcomes(store, poison.id) == [(1, Outcome.LOST), (2, Outcome.LOST)]
    failed = await stored(store, after.id)
    assert (failed.state, failed.error_kind) == (TaskState.FAILED, "dependency_failed")
