"""The real engine (LocalExecutor, SqlStore) on SQLite and PostgreSQL, driven through
``Imperium`` as an embedding application would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from imperium.domain.models import AgentSpec
from imperium.domain.specs import TaskSpec
from imperium.domain.states import Outcome, TaskState
from imperium.runtime import Imperium
from imperium.settings import Settings


@pytest.fixture
async def im(database_url: str) -> AsyncIterator[Imperium]:
    settings = Settings(
        database_url=database_url, retry_base_seconds=0.01, retry_cap_seconds=0.05,
        poll_interval=0.05, drain_seconds=0.5,
    )  # fmt: skip
    app = await Imperium.open(settings)
    await app.start()
    yield app
    await app.close()


async def register(im: Imperium, agent_id: str, agent_type: str, **config: object) -> None:
    spec = AgentSpec(id=agent_id, type=agent_type, capabilities=frozenset({agent_id}),
                     max_concurrency=4, config=dict(config))  # fmt: skip
    await im.agents.register(spec)


async def run(im: Imperium, spec: TaskSpec) -> object:
    task = await im.engine.submit(spec)
    return await asyncio.wait_for(im.engine.wait_for(task.id), timeout=20)


async def test_echo_is_registered_and_runs(im: Imperium) -> None:
    done = await run(im, TaskSpec(type="echo", payload={"a": [1, 2]}))
    assert (done.state, done.result) == (TaskState.SUCCEEDED, {"a": [1, 2]})
    stored = await im.store.get_task(done.id)
    assert stored is not None
    assert (stored.state, stored.result, stored.agent_id) == (
        TaskState.SUCCEEDED,
        {"a": [1, 2]},
        "echo",
    )


async def test_blocking_agent_runs_in_a_thread(im: Imperium) -> None:
    await register(im, "double", "tests.support.agents:blocking_double")
    done = await run(im, TaskSpec(type="double", payload=21))
    assert done.result == 42


async def test_flaky_agent_is_retried_until_it_succeeds(im: Imperium) -> None:
    await register(im, "flaky", "tests.support.agents:Flaky", failures=2)
    done = await run(im, TaskSpec(type="flaky", max_attempts=3))
    assert (done.state, done.result) == (TaskState.SUCCEEDED, {"attempt": 3})
    rows = await im.store.executions_for(done.id)
    assert [(e.attempt, e.outcome, e.error_kind) for e in rows] == [
        (1, Outcome.FAILED, "planned"),
        (2, Outcome.FAILED, "planned"),
        (3, Outcome.SUCCEEDED, None),
    ]


async def test_exhausted_attempts_dead_letter_the_task(im: Imperium) -> None:
    await register(im, "bad", "tests.support.agents:always_fails")
    done = await run(im, TaskSpec(type="bad", max_attempts=2))
    assert done.state is TaskState.DEAD
    assert (done.error_kind, done.error_message) == ("RuntimeError", "this agent always fails")
    assert len(await im.store.executions_for(done.id)) == 2


async def test_non_retryable_failure_fails_at_once(im: Imperium) -> None:
    await register(im, "fatal", "tests.support.agents:fatal")
    done = await run(im, TaskSpec(type="fatal", max_attempts=5))
    assert (done.state, done.error_kind) == (TaskState.FAILED, "bad_input")
    assert len(await im.store.executions_for(done.id)) == 1


async def test_timeout_stops_the_attempt(im: Imperium) -> None:
    await register(im, "hangs", "tests.support.agents:hangs")
    done = await run(im, TaskSpec(type="hangs", timeout=0.2, max_attempts=1))
    assert (done.state, done.error_kind) == (TaskState.TIMED_OUT, "timeout")
    assert [e.outcome for e in await im.store.executions_for(done.id)] == [Outcome.TIMED_OUT]


async def test_cancel_a_running_task(im: Imperium) -> None:
    await register(im, "sleepy", "tests.support.agents:sleepy")
    task = await im.engine.submit(TaskSpec(type="sleepy", payload={"sleep": 30}))
    for _ in range(200):
        if im.engine.executor.running():
            break
        await asyncio.sleep(0.01)
    cancelled = await im.engine.cancel(task.id)
    assert cancelled.state is TaskState.CANCELLED
    assert im.engine.executor.running() == 0
    assert [e.outcome for e in await im.store.executions_for(task.id)] == [Outcome.CANCELLED]


async def test_a_workflow_runs_in_order_and_propagates_failure(im: Imperium) -> None:
    from imperium.domain.specs import WorkflowSpec

    await register(im, "bad", "tests.support.agents:fatal")
    _, tasks = await im.engine.submit_workflow(WorkflowSpec((
        TaskSpec(type="echo", name="first", payload=1),
        TaskSpec(type="bad", name="breaks", depends_on=("first",)),
        TaskSpec(type="echo", name="after", depends_on=("breaks",)),
    )))  # fmt: skip
    done = {t.name: await asyncio.wait_for(im.engine.wait_for(t.id), 20) for t in tasks}
    assert done["first"].state is TaskState.SUCCEEDED
    assert done["breaks"].state is TaskState.FAILED
    assert (done["after"].state, done["after"].error_kind) == (
        TaskState.FAILED, "dependency_failed",
    )  # fmt: skip
    assert await im.store.executions_for(done["after"].id) == []


async def test_cli_submissions_are_admitted_by_the_running_scheduler(im: Imperium) -> None:
    [task] = await im.submissions.submit([TaskSpec(type="echo", payload="from outside")])
    assert task.state is TaskState.SUBMITTED
    for _ in range(400):
        stored = await im.store.get_task(task.id)
        if stored is not None and stored.state is TaskState.SUCCEEDED:
            break
        await asyncio.sleep(0.02)
    assert stored is not None
    assert (stored.state, stored.result) == (TaskState.SUCCEEDED, "from outside")


async def test_agent_paused_from_outside_is_picked_up_by_polling(im: Imperium) -> None:
    from imperium.domain.states import AgentStatus
    from imperium.runtime import SystemClock, check_agent_type
    from imperium.services.agents import AgentService

    outside = AgentService(im.store, im.store, SystemClock(), check_agent_type)  # no engine hook
    await outside.set_status("echo", AgentStatus.PAUSED)
    for _ in range(200):
        if im.engine.state.agents["echo"].spec.status is AgentStatus.PAUSED:
            break
        await asyncio.sleep(0.02)
    assert im.engine.state.agents["echo"].spec.status is AgentStatus.PAUSED
