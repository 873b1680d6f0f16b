"""Invariant 3: a task never starts before its dependencies succeeded; a dependency that
ends badly fails (or cancels) its dependents, transitively, with the reason recorded."""

from __future__ import annotations

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError, CycleError, NotFoundError, ValidationError
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.states import TaskState
from imperium.ports import TaskFilter
from imperium.services.engine import Engine

from .conftest import agent_spec, event_types, job, settle, started_ids, stored


@pytest.fixture
async def wide(engine: Engine) -> Engine:
    """An engine with one agent that could run four tasks at once."""
    engine.apply_agent(agent_spec(max_concurrency=4))
    return engine


async def test_a_dependent_starts_only_after_its_dependency_succeeded(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a = await wide.submit(job())
    b = await wide.submit(job(depends_on=(a.id,)))
    await settle(wide)
    assert started_ids(executor) == [a.id]
    assert (await stored(store, b.id)).state is TaskState.PENDING

    executor.finish(a.id)
    await settle(wide)
    assert started_ids(executor) == [a.id, b.id]
    assert await event_types(store, b.id) == ["task.pending", "task.queued", "task.running"]


async def test_a_failed_attempt_of_the_dependency_does_not_release_the_dependent(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a = await wide.submit(job(max_attempts=2))
    b = await wide.submit(job(depends_on=(a.id,)))
    await settle(wide)
    executor.fail(a.id)  # retried later: b keeps waiting
    await settle(wide)
    assert started_ids(executor) == [a.id]
    assert (await stored(store, b.id)).state is TaskState.PENDING


async def test_a_task_waits_for_all_of_its_dependencies(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a1, a2 = await wide.submit_many([job(), job()])
    b = await wide.submit(job(depends_on=(a1.id, a2.id)))
    await settle(wide)
    executor.finish(a1.id)
    await settle(wide)
    assert b.id not in started_ids(executor)
    assert (await stored(store, b.id)).state is TaskState.PENDING
    executor.finish(a2.id)
    await settle(wide)
    assert started_ids(executor) == [a1.id, a2.id, b.id]


async def test_a_dependency_that_already_succeeded_is_met_at_once(
    wide: Engine, executor: StubExecutor
) -> None:
    a = await wide.submit(job())
    await settle(wide)
    executor.finish(a.id)
    await settle(wide)
    assert a.id not in wide.state.tasks  # ended and forgotten: known from the store only

    b = await wide.submit(job(depends_on=(a.id,)))
    await settle(wide)
    assert started_ids(executor) == [a.id, b.id]


async def test_a_dead_dependency_fails_its_dependents_transitively(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a = await wide.submit(job(max_attempts=1))
    b = await wide.submit(job(depends_on=(a.id,)))
    c = await wide.submit(job(depends_on=(b.id,)))
    await settle(wide)
    executor.fail(a.id, kind="boom")
    await settle(wide)

    saved_a, saved_b, saved_c = [await stored(store, t.id) for t in (a, b, c)]
    assert (saved_a.state, saved_a.error_kind) == (TaskState.DEAD, "boom")
    assert (saved_b.state, saved_b.error_kind) == (TaskState.FAILED, "dependency_failed")
    assert saved_b.error_message == f"dependency {a.id} ended dead"
    assert (saved_c.state, saved_c.error_kind) == (TaskState.FAILED, "dependency_failed")
    assert saved_c.error_message == f"dependency {b.id} ended failed"
    assert started_ids(executor) == [a.id]
    assert await store.executions_for(b.id) == []
    assert await event_types(store, c.id) == ["task.pending", "task.failed"]
    [failed_event] = [e for e in await store.events_for(c.id) if e.event_type == "task.failed"]
    assert failed_event.data == {
        "error_kind": "dependency_failed",
        "error": f"dependency {b.id} ended failed",
    }


async def test_a_non_retryable_failure_fails_the_dependent(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a = await wide.submit(job(max_attempts=5))
    b = await wide.submit(job(depends_on=(a.id,)))
    await settle(wide)
    executor.fail(a.id, kind="bad_input", retryable=False)
    await settle(wide)
    assert (await stored(store, a.id)).state is TaskState.FAILED
    saved_b = await stored(store, b.id)
    assert (saved_b.state, saved_b.error_kind) == (TaskState.FAILED, "dependency_failed")
    assert saved_b.error_message == f"dependency {a.id} ended failed"


async def test_cancelling_a_dependency_cancels_its_dependents(
    engine: Engine, store: MemoryStore
) -> None:
    a = await engine.submit(job())  # no agent: stays queued
    b = await engine.submit(job(depends_on=(a.id,)))
    c = await engine.submit(job(depends_on=(b.id,)))
    await engine.cancel(a.id)
    await settle(engine)
    for task, cause in ((b, a), (c, b)):
        saved = await stored(store, task.id)
        assert (saved.state, saved.error_kind) == (TaskState.CANCELLED, "dependency_cancelled")
        assert saved.error_message == f"dependency {cause.id} ended cancelled"


async def test_a_workflow_runs_in_dependency_order(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    workflow = WorkflowSpec(
        (
            TaskSpec("job", name="report", depends_on=("fetch", "parse")),
            TaskSpec("job", name="parse", depends_on=("fetch",)),
            TaskSpec("job", name="fetch"),
        ),
        name="etl",
    )
    workflow_id, (report, parse, fetch) = await wide.submit_workflow(workflow)
    assert (report.name, parse.name, fetch.name) == ("report", "parse", "fetch")
    assert set(report.depends_on) == {fetch.id, parse.id}
    assert fetch.dependents == 2
    assert {t.workflow_id for t in (report, parse, fetch)} == {workflow_id}

    order = []
    for _ in range(3):
        await settle(wide)
        [running] = executor.running_ids()
        order.append(running)
        executor.finish(running)
    await settle(wide)
    assert order == [fetch.id, parse.id, report.id]
    assert (await stored(store, report.id)).state is TaskState.SUCCEEDED


async def test_a_workflow_with_a_cycle_is_refused_naming_the_cycle(
    engine: Engine, store: MemoryStore
) -> None:
    workflow = WorkflowSpec(
        (
            TaskSpec("job", name="a", depends_on=("c",)),
            TaskSpec("job", name="b", depends_on=("a",)),
            TaskSpec("job", name="c", depends_on=("b",)),
            TaskSpec("job", name="free"),
        )
    )
    with pytest.raises(CycleError, match="a -> c -> b -> a") as raised:
        await engine.submit_workflow(workflow)
    assert raised.value.cycle == ["a", "c", "b"]
    assert await store.list_tasks(TaskFilter()) == []
    assert engine.state.tasks == {}


async def test_depending_on_an_unknown_id_is_refused(engine: Engine, store: MemoryStore) -> None:
    with pytest.raises(NotFoundError, match="'nope' is not a known task id"):
        await engine.submit(job(depends_on=("nope",)))
    with pytest.raises(NotFoundError):
        await engine.submit_many([job(), job(depends_on=("nope",))])  # all or nothing
    with pytest.raises(ValidationError, match="unknown task"):
        await engine.submit_workflow(
            WorkflowSpec((TaskSpec("job", name="x", depends_on=("nope",)),))
        )
    assert await store.list_tasks(TaskFilter()) == []


async def test_depending_on_a_dead_task_is_refused(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a = await wide.submit(job(max_attempts=1))
    await settle(wide)
    executor.fail(a.id)
    await settle(wide)
    assert (await stored(store, a.id)).state is TaskState.DEAD

    with pytest.raises(ConflictError, match="already ended dead"):
        await wide.submit(job(depends_on=(a.id,)))
    with pytest.raises(ConflictError):
        await wide.submit_workflow(WorkflowSpec((TaskSpec("job", name="x", depends_on=(a.id,)),)))
    assert [t.id for t in await store.list_tasks(TaskFilter())] == [a.id]


async def test_a_repeated_dependency_ends_its_dependent_once(
    wide: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    a = await wide.submit(job(max_attempts=1))
    b = await wide.submit(job(depends_on=(a.id, a.id)))
    await settle(wide)
    executor.fail(a.id)
    await settle(wide)
    assert (await stored(store, b.id)).state is TaskState.FAILED
    assert await event_types(store, b.id) == ["task.pending", "task.failed"]
