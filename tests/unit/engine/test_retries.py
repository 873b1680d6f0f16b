"""Retries: a failed attempt runs again after its backoff (never before), until
``max_attempts``; non-retryable failures end at once; timeouts are attempts too; a
dead-lettered task can be given more attempts."""

from __future__ import annotations

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.states import Outcome, TaskState
from imperium.services.engine import Engine

from .conftest import FakeClock, agent_spec, job, outcomes, settle, started_ids, stored


@pytest.fixture
async def one_slot(engine: Engine) -> Engine:
    engine.apply_agent(agent_spec(max_concurrency=1))
    return engine


async def test_a_failed_attempt_runs_again_after_the_backoff_and_not_before(
    one_slot: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine = one_slot
    task = await engine.submit(job())
    await settle(engine)
    executor.fail(task.id)
    await settle(engine)
    failed_at = clock.now()
    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.not_before) == (
        TaskState.QUEUED,
        1,
        failed_at + 10.0,
    )

    clock.advance(9.9)
    engine.process_timers()
    await settle(engine)
    assert started_ids(executor) == [task.id]

    clock.advance(0.1)
    engine.process_timers()
    await settle(engine)
    assert [a.attempt for a in executor.started] == [1, 2]
    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.not_before) == (TaskState.RUNNING, 2, None)


async def test_a_waiting_retry_does_not_hold_the_slot(
    one_slot: Engine, executor: StubExecutor
) -> None:
    engine = one_slot
    flaky, other = await engine.submit_many([job(), job()])
    await settle(engine)
    executor.fail(flaky.id)
    await settle(engine)
    assert started_ids(executor) == [flaky.id, other.id]


async def test_the_backoff_grows_with_each_attempt(
    one_slot: Engine, executor: StubExecutor, clock: FakeClock
) -> None:
    engine = one_slot
    task = await engine.submit(job(max_attempts=4))
    for attempt, delay in ((1, 10.0), (2, 20.0), (3, 40.0)):
        await settle(engine)
        executor.fail(task.id)
        clock.advance(delay - 0.01)
        engine.process_timers()
        await settle(engine)
        assert len(executor.started) == attempt
        clock.advance(0.01)
        engine.process_timers()
    await settle(engine)
    assert len(executor.started) == 4


async def test_after_max_attempts_the_task_is_dead(
    one_slot: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine = one_slot
    task = await engine.submit(job(max_attempts=2))
    await settle(engine)
    executor.fail(task.id, kind="flaky")
    clock.advance(10)
    engine.process_timers()
    await settle(engine)
    executor.fail(task.id, kind="flaky")
    await settle(engine)

    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.error_kind) == (TaskState.DEAD, 2, "flaky")
    assert saved.state.is_dead_letter
    assert saved.finished_at == clock.now()
    clock.advance(3600)
    engine.process_timers()
    await settle(engine)
    assert len(executor.started) == 2


async def test_a_non_retryable_failure_ends_failed_at_once(
    one_slot: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine = one_slot
    task = await engine.submit(job(max_attempts=5))
    await settle(engine)
    executor.fail(task.id, kind="bad_input", retryable=False)
    await settle(engine)
    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.error_kind) == (TaskState.FAILED, 1, "bad_input")
    assert await outcomes(store, task.id) == [(1, Outcome.FAILED)]


async def test_a_timeout_is_an_attempt_and_the_last_one_ends_timed_out(
    one_slot: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine = one_slot
    task = await engine.submit(job(timeout=30.0, max_attempts=2))
    await settle(engine)

    clock.advance(29.9)
    engine.process_timers()
    await settle(engine)
    assert executor.cancelled == []
    assert executor.running_ids() == [task.id]

    clock.advance(0.1)
    engine.process_timers()
    await settle(engine)
    assert executor.cancelled == [task.id]
    saved = await stored(store, task.id)
    assert (saved.state, saved.error_kind) == (TaskState.QUEUED, "timeout")

    clock.advance(10)
    engine.process_timers()
    await settle(engine)
    assert [a.attempt for a in executor.started] == [1, 2]
    clock.advance(30)
    engine.process_timers()
    await settle(engine)

    assert executor.cancelled == [task.id, task.id]
    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.error_kind) == (TaskState.TIMED_OUT, 2, "timeout")
    rows = await store.executions_for(task.id)
    assert [(e.attempt, e.outcome, e.error_kind, e.duration) for e in rows] == [
        (1, Outcome.TIMED_OUT, "timeout", 30.0),
        (2, Outcome.TIMED_OUT, "timeout", 30.0),
    ]
    assert rows[0].error_message == "attempt ran longer than the task's timeout of 30.0s"


async def test_an_attempt_that_ends_in_time_is_not_timed_out(
    one_slot: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine = one_slot
    task = await engine.submit(job(timeout=30.0))
    await settle(engine)
    clock.advance(20)
    executor.finish(task.id)
    await settle(engine)
    clock.advance(20)
    engine.process_timers()
    await settle(engine)
    assert executor.cancelled == []
    assert await outcomes(store, task.id) == [(1, Outcome.SUCCEEDED)]


async def test_requeue_gives_a_dead_task_more_attempts(
    one_slot: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine = one_slot
    task = await engine.submit(job(max_attempts=1))
    await settle(engine)
    executor.fail(task.id)
    await settle(engine)
    assert (await stored(store, task.id)).state is TaskState.DEAD

    requeued = await engine.requeue(task.id, attempts=2)
    assert requeued.max_attempts == 3  # the attempts made so far, plus two
    await settle(engine)
    assert [a.attempt for a in executor.started] == [1, 2]
    executor.finish(task.id)
    await settle(engine)
    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.max_attempts) == (TaskState.SUCCEEDED, 2, 3)
    assert await outcomes(store, task.id) == [(1, Outcome.FAILED), (2, Outcome.SUCCEEDED)]


async def test_requeue_refuses_what_is_not_dead_lettered(
    one_slot: Engine, executor: StubExecutor
) -> None:
    engine = one_slot
    running = await engine.submit(job())
    await settle(engine)
    with pytest.raises(ConflictError, match="still running"):
        await engine.requeue(running.id)
    executor.finish(running.id)
    await settle(engine)
    with pytest.raises(ConflictError, match="only dead, timed_out or failed"):
        await engine.requeue(running.id)
    with pytest.raises(NotFoundError):
        await engine.requeue("no-such-task")
    with pytest.raises(ValidationError):
        await engine.requeue(running.id, attempts=0)
