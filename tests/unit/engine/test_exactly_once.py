"""Invariant 2: a result is recorded exactly once. Every lease carries a fencing token; a
completion or heartbeat with a stale token is refused and records nothing."""

from __future__ import annotations

import re

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import StaleLeaseError
from imperium.domain.models import AttemptResult
from imperium.domain.states import Outcome, TaskState
from imperium.ports import Attempt, AttemptReporter
from imperium.services.engine import Engine

from .conftest import (
    LEASE_SECONDS,
    RETRY,
    FakeClock,
    MakeEngine,
    agent_spec,
    events,
    executions,
    job,
    outcomes,
    settle,
    stored,
)

SUCCESS = AttemptResult(Outcome.SUCCEEDED, {"answer": 42})


@pytest.fixture
async def remote(engine: Engine) -> Engine:
    engine.apply_agent(agent_spec("remote-1", agent_type="remote", max_concurrency=1))
    return engine


async def test_a_stale_token_is_refused_and_records_nothing(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine.apply_agent(agent_spec())
    task = await engine.submit(job())
    await settle(engine)
    [attempt] = executor.started
    events_before = await events(store, task.id)

    for token in (attempt.token - 1, attempt.token + 1):
        with pytest.raises(StaleLeaseError, match="not current"):
            engine.finish(task.id, token, SUCCESS)
        with pytest.raises(StaleLeaseError):
            await engine.complete(task.id, token, SUCCESS)
    await settle(engine)

    assert engine.state.tasks[task.id].state is TaskState.RUNNING
    assert await executions(store, task.id) == []
    assert await events(store, task.id) == events_before
    assert (await stored(store, task.id)).state is TaskState.RUNNING


async def test_an_expired_lease_is_requeued_and_its_token_refused(
    remote: Engine, store: MemoryStore, clock: FakeClock
) -> None:
    engine = remote
    task = await engine.submit(job())
    [first] = await engine.lease("remote-1")
    assert (first.task_id, first.attempt, first.token) == (task.id, 1, 1)
    assert first.expires_at == clock.now() + LEASE_SECONDS

    clock.advance(LEASE_SECONDS + 0.5)
    engine.process_timers()
    await settle(engine)

    saved = await stored(store, task.id)
    assert (saved.state, saved.attempts, saved.error_kind) == (
        TaskState.QUEUED,
        1,
        "lease_expired",
    )
    [lost] = await executions(store, task.id)
    assert (lost.attempt, lost.outcome, lost.agent_id) == (1, Outcome.LOST, "remote-1")

    with pytest.raises(StaleLeaseError):
        await engine.complete(task.id, first.token, SUCCESS)
    with pytest.raises(StaleLeaseError):
        await engine.heartbeat("remote-1", task.id, first.token)

    assert await engine.lease("remote-1") == [], "still in its retry backoff"
    clock.advance(RETRY.delay(1, 0.0))
    engine.process_timers()
    [second] = await engine.lease("remote-1")
    assert (second.attempt, second.token) == (2, 2)

    with pytest.raises(StaleLeaseError):
        await engine.complete(task.id, first.token, SUCCESS)  # the old holder comes back
    done = await engine.complete(task.id, second.token, SUCCESS)
    assert done.state is TaskState.SUCCEEDED
    with pytest.raises(StaleLeaseError):
        await engine.complete(task.id, second.token, SUCCESS)  # a duplicate delivery
    await settle(engine)

    assert await outcomes(store, task.id) == [(1, Outcome.LOST), (2, Outcome.SUCCEEDED)]
    saved = await stored(store, task.id)
    assert (saved.state, saved.result, saved.attempts) == (TaskState.SUCCEEDED, {"answer": 42}, 2)
    types = [e.event_type for e in await events(store, task.id)]
    assert types.count("task.succeeded") == 1


async def test_a_heartbeat_extends_the_lease(
    remote: Engine, store: MemoryStore, clock: FakeClock
) -> None:
    engine = remote
    task = await engine.submit(job())
    [lease] = await engine.lease("remote-1")

    clock.advance(LEASE_SECONDS - 5)
    expires = await engine.heartbeat("remote-1", task.id, lease.token)
    assert expires == clock.now() + LEASE_SECONDS
    clock.advance(6)  # past the first expiry, before the extended one
    engine.process_timers()
    await settle(engine)
    assert (await stored(store, task.id)).state is TaskState.RUNNING
    assert await executions(store, task.id) == []

    clock.advance(LEASE_SECONDS)  # no more heartbeats
    engine.process_timers()
    await settle(engine)
    assert await outcomes(store, task.id) == [(1, Outcome.LOST)]
    assert (await stored(store, task.id)).state is TaskState.QUEUED


async def test_a_heartbeat_from_another_agent_is_refused(remote: Engine) -> None:
    engine = remote
    engine.apply_agent(agent_spec("remote-2", agent_type="remote"))
    task = await engine.submit(job())
    [lease] = await engine.lease("remote-1")
    with pytest.raises(StaleLeaseError, match="another agent"):
        await engine.heartbeat("remote-2", task.id, lease.token)


class ReporterKeepingExecutor(StubExecutor):
    """Keeps every attempt's reporter, so the test can play a result that arrives late."""

    def __init__(self) -> None:
        super().__init__()
        self.reporters: dict[tuple[str, int], AttemptReporter] = {}

    def start(self, attempt: Attempt, report: AttemptReporter) -> None:
        super().start(attempt, report)
        self.reporters[(attempt.task_id, attempt.attempt)] = report


async def test_a_late_local_result_after_a_timeout_is_ignored(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    executor = ReporterKeepingExecutor()
    engine = await make_engine(executor=executor)
    engine.apply_agent(agent_spec())
    task = await engine.submit(job(timeout=5.0))
    await settle(engine)

    clock.advance(5.0)
    engine.process_timers()
    clock.advance(RETRY.delay(1, 0.0))
    engine.process_timers()
    await settle(engine)
    assert [a.attempt for a in executor.started] == [1, 2]

    late = executor.reporters[(task.id, 1)]
    late(task.id, 1, SUCCESS)  # the first attempt's agent finishes after all
    await settle(engine)
    assert engine.state.tasks[task.id].state is TaskState.RUNNING
    assert engine.state.tasks[task.id].attempts == 2
    assert await outcomes(store, task.id) == [(1, Outcome.TIMED_OUT)]

    executor.finish(task.id)
    await settle(engine)
    assert await outcomes(store, task.id) == [(1, Outcome.TIMED_OUT), (2, Outcome.SUCCEEDED)]


async def test_attempt_numbers_are_unique_across_retries(
    engine: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(agent_spec())
    task = await engine.submit(job(max_attempts=3))
    for attempt in (1, 2):
        await settle(engine)
        executor.fail(task.id)
        clock.advance(RETRY.delay(attempt, 0.0))
        engine.process_timers()
    await settle(engine)
    executor.finish(task.id)
    await settle(engine)

    rows = await executions(store, task.id)
    assert [(e.attempt, e.lease_token, e.outcome) for e in rows] == [
        (1, 1, Outcome.FAILED),
        (2, 2, Outcome.FAILED),
        (3, 3, Outcome.SUCCEEDED),
    ]
    assert [a.token for a in executor.started] == [1, 2, 3]


async def test_a_refused_lease_token_does_not_reveal_the_current_one(
    make_engine: MakeEngine,
) -> None:
    """A 409 for a wrong token must not hand the caller the token that would be accepted."""
    engine = await make_engine(
        executor=StubExecutor(), agents=[agent_spec("r", agent_type="remote")]
    )
    task = await engine.submit(job())
    [lease] = await engine.lease("r")
    with pytest.raises(StaleLeaseError) as refused:
        await engine.heartbeat("r", task.id, lease.token + 1)
    numbers = re.findall(r"\b\d+\b", str(refused.value))  # task ids (t0001) are words
    assert numbers == [str(lease.token + 1)], str(refused.value)
