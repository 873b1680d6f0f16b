"""Invariant 6: nothing silent — every state change is an event, every attempt one
execution row with its agent, timings, outcome, error, resources, tokens and cost."""

from __future__ import annotations

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import AttemptResult
from imperium.domain.states import Outcome, TaskState
from imperium.services.engine import Engine

from .conftest import RETRY, FakeClock, agent_spec, event_types, events, job, settle, stored


async def test_a_task_that_fails_once_then_succeeds(
    engine: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(agent_spec("agent-1"))
    submitted_at = clock.now()
    task = await engine.submit(job(resources={"cpu": 1.0}))
    await settle(engine)
    clock.advance(4.0)
    executor.fail(task.id, kind="flaky")
    await settle(engine)
    clock.advance(RETRY.delay(1, 0.0))
    retried_at = clock.now()
    engine.process_timers()
    await settle(engine)
    clock.advance(2.5)
    executor.finish(task.id, AttemptResult(Outcome.SUCCEEDED, {"ok": True}, tokens=120, cost=0.03))
    await settle(engine)

    assert await event_types(store, task.id) == [
        "task.queued",
        "task.running",
        "task.retrying",
        "task.running",
        "task.succeeded",
    ]
    logged = await events(store, task.id)
    assert [e.created_at - submitted_at for e in logged] == [0.0, 0.0, 4.0, 14.0, 16.5]
    assert [e.agent_id for e in logged] == [None, *["agent-1"] * 4]
    assert logged[1].data == {"attempt": 1, "waited": 0.0}
    assert logged[2].data == {"attempt": 1, "delay": 10.0, "error": "flaky"}
    assert logged[3].data == {"attempt": 2, "waited": 0.0}

    first, second = await store.executions_for(task.id)
    assert (first.attempt, first.agent_id, first.outcome) == (1, "agent-1", Outcome.FAILED)
    assert (first.started_at, first.finished_at, first.duration) == (
        submitted_at,
        submitted_at + 4.0,
        4.0,
    )
    assert (first.error_kind, first.error_message, first.lease_token) == ("flaky", "flaky", 1)
    assert (first.task_type, first.complexity, first.resources) == ("job", 1.0, {"cpu": 1.0})
    assert (second.attempt, second.outcome, second.error_kind) == (2, Outcome.SUCCEEDED, None)
    assert (second.started_at, second.duration) == (retried_at, 2.5)
    assert (second.tokens, second.cost) == (120, 0.03)

    saved = await stored(store, task.id)
    assert (saved.state, saved.result, saved.error_kind) == (
        TaskState.SUCCEEDED,
        {"ok": True},
        None,
    )


async def test_a_dead_task_logs_every_attempt(
    engine: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(agent_spec())
    task = await engine.submit(job(max_attempts=2))
    await settle(engine)
    executor.fail(task.id, kind="first")
    clock.advance(RETRY.delay(1, 0.0))
    engine.process_timers()
    await settle(engine)
    executor.fail(task.id, kind="second")
    await settle(engine)
    assert await event_types(store, task.id) == [
        "task.queued",
        "task.running",
        "task.retrying",
        "task.running",
        "task.dead",
    ]
    dead = (await events(store, task.id))[-1]
    assert dead.data == {"error_kind": "second", "error": "second"}
    rows = await store.executions_for(task.id)
    assert [(e.attempt, e.outcome, e.error_kind) for e in rows] == [
        (1, Outcome.FAILED, "first"),
        (2, Outcome.FAILED, "second"),
    ]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        # no agent at all: the task is parked as unplaceable until one registers
        ("cancel-queued", ["task.queued", "task.unplaceable", "task.cancelled"]),
        ("cancel-running", ["task.queued", "task.running", "task.cancelled"]),
        ("fatal", ["task.queued", "task.running", "task.failed"]),
    ],
)
async def test_every_ending_is_an_event(
    engine: Engine, executor: StubExecutor, store: MemoryStore, action: str, expected: list[str]
) -> None:
    if action != "cancel-queued":
        engine.apply_agent(agent_spec())
    task = await engine.submit(job())
    await settle(engine)
    if action == "fatal":
        executor.fail(task.id, retryable=False)
    else:
        await engine.cancel(task.id)
    await settle(engine)
    assert await event_types(store, task.id) == expected
    rows = await store.executions_for(task.id)
    assert len(rows) == (0 if action == "cancel-queued" else 1)


async def test_requeue_and_a_remote_lease_are_events_too(
    engine: Engine, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(agent_spec("remote-1", agent_type="remote"))
    task = await engine.submit(job(max_attempts=1))
    [lease] = await engine.lease("remote-1")
    clock.advance(60)
    engine.process_timers()
    await settle(engine)
    await engine.requeue(task.id)
    [lease] = await engine.lease("remote-1")
    await engine.complete(task.id, lease.token, AttemptResult(Outcome.SUCCEEDED))
    assert await event_types(store, task.id) == [
        "task.queued",
        "task.running",
        "task.dead",
        "task.queued",
        "task.running",
        "task.succeeded",
    ]
    rows = await store.executions_for(task.id)
    assert [(e.attempt, e.outcome, e.error_kind, e.agent_id) for e in rows] == [
        (1, Outcome.LOST, "lease_expired", "remote-1"),
        (2, Outcome.SUCCEEDED, None, "remote-1"),
    ]
