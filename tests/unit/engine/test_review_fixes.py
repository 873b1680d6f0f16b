"""Regressions for bugs found in review: a dependency that ends while submission reads the
store, concurrent requeues, leasing and committing while the scheduler stops, waiting for
and cancelling tasks that are submitted but not admitted yet, checks at submission, and
agents whose implementation changes or fails to load."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Sequence

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.jsonvalues import json_problem
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.models import AgentSpec, Event, Task
from imperium.domain.specs import TaskSpec, WorkflowSpec
from imperium.domain.states import AgentStatus, TaskState
from imperium.ports import TaskFilter, WriteBatch
from imperium.services.engine import Engine, recovery
from imperium.services.engine.journal import JournalClosedError
from imperium.services.engine.lock import SchedulerLock
from imperium.services.submission import SubmissionService

from .conftest import (
    LOCK_TTL,
    CountingIds,
    FakeClock,
    MakeEngine,
    agent_spec,
    event_types,
    job,
    make_config,
    settle,
    started_ids,
    stored,
)


class ProbeStore(MemoryStore):
    """A MemoryStore a test can hold up and look into.

    - ``states_gate``: when set, the next ``task_states`` call waits for it (once), and
      ``states_entered`` tells the test the read is in flight;
    - ``yield_on_read``: ``get_task`` and ``task_states`` give the loop a turn first, as a
      real database round trip does;
    - ``written``: every event written through ``apply`` (agent events have no task id to
      query them by).
    """

    def __init__(self) -> None:
        super().__init__()
        self.states_gate: asyncio.Event | None = None
        self.states_entered = asyncio.Event()
        self.yield_on_read = False
        self.written: list[Event] = []

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]:
        if self.yield_on_read:
            await asyncio.sleep(0)
        gate, self.states_gate = self.states_gate, None
        if gate is not None:
            self.states_entered.set()
            await gate.wait()
        return await super().task_states(ids)

    async def get_task(self, task_id: str) -> Task | None:
        if self.yield_on_read:
            await asyncio.sleep(0)
        return await super().get_task(task_id)

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        await super().apply(batch, owner, lock_expires_at)
        self.written.extend(batch.events)


class FlakyPrepare(StubExecutor):
    """``prepare`` raises TypeError (not AgentLoadError), as an agent's own constructor may,
    for a config with ``"broken": true`` and while ``failing`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = False

    def prepare(self, spec: AgentSpec) -> None:
        if self.failing or spec.config.get("broken"):
            raise TypeError("__init__() got an unexpected keyword argument 'modle'")
        super().prepare(spec)


def load_failures(store: ProbeStore, agent_id: str) -> list[dict[str, object] | None]:
    return [
        e.data
        for e in store.written
        if e.event_type == "agent.load_failed" and e.agent_id == agent_id
    ]


async def all_tasks(store: MemoryStore) -> list[Task]:
    return await store.list_tasks(TaskFilter())


@pytest.fixture
def probe() -> ProbeStore:
    return ProbeStore()


@pytest.fixture
def submissions(store: MemoryStore, clock: FakeClock, new_id: CountingIds) -> SubmissionService:
    """Submitting as the CLI does: tasks stored ``submitted`` for the scheduler to admit."""
    return SubmissionService(store, clock, new_id)


# ---------------------------------------------------------------- 1. dependency states


async def test_a_dependency_that_ends_while_the_store_is_read_is_read_again(
    make_engine: MakeEngine, probe: ProbeStore, executor: StubExecutor
) -> None:
    engine = await make_engine(store=probe, agents=[agent_spec(max_concurrency=1)])
    old = await engine.submit(job())
    await settle(engine)
    executor.finish(old.id)
    await settle(engine)
    assert old.id not in engine.state.tasks  # ended and forgotten: only the store knows it
    running = await engine.submit(job())
    await settle(engine)
    assert executor.running_ids() == [running.id]

    probe.states_gate = gate = asyncio.Event()
    submitting = asyncio.create_task(engine.submit(job(depends_on=(running.id, old.id))))
    await asyncio.wait_for(probe.states_entered.wait(), 1)
    executor.finish(running.id)  # ends, is committed and forgotten during the read
    await settle(engine)
    assert running.id not in engine.state.tasks
    gate.set()
    dependent = await asyncio.wait_for(submitting, 1)
    await settle(engine)

    assert (await stored(probe, dependent.id)).state is TaskState.RUNNING
    assert started_ids(executor) == [old.id, running.id, dependent.id]
    assert await event_types(probe, dependent.id) == ["task.queued", "task.running"]
    assert running.id not in engine.state._dependents
    assert engine.state._unmet == {}


# ---------------------------------------------------------------- 2. concurrent requeue


@pytest.mark.parametrize("with_dependency", [False, True], ids=["alone", "with-dependency"])
async def test_concurrent_requeues_of_one_dead_task_admit_it_once(
    make_engine: MakeEngine, probe: ProbeStore, executor: StubExecutor, with_dependency: bool
) -> None:
    engine = await make_engine(store=probe, agents=[agent_spec(max_concurrency=2)])
    depends_on: tuple[str, ...] = ()
    if with_dependency:  # requeue then also reads the dependency's state from the store
        dep = await engine.submit(job())
        await settle(engine)
        executor.finish(dep.id)
        await settle(engine)
        depends_on = (dep.id,)
    task = await engine.submit(job(max_attempts=1, depends_on=depends_on))
    await settle(engine)
    executor.fail(task.id)
    await settle(engine)
    assert (await stored(probe, task.id)).state is TaskState.DEAD
    first_attempts = len(executor.started)

    probe.yield_on_read = True
    results = await asyncio.gather(
        engine.requeue(task.id), engine.requeue(task.id), return_exceptions=True
    )
    probe.yield_on_read = False
    requeued = [r for r in results if isinstance(r, Task)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(requeued) == 1
    assert [type(e) for e in refused] == [ConflictError]
    assert f"task {task.id} is already" in str(refused[0])

    await settle(engine)
    assert started_ids(executor)[first_attempts:] == [task.id]
    assert engine.state.agents["agent-1"].running == 1
    executor.finish(task.id)
    await settle(engine)
    assert engine.state.agents["agent-1"].running == 0
    saved = await stored(probe, task.id)
    assert (saved.state, saved.attempts, saved.max_attempts) == (TaskState.SUCCEEDED, 2, 2)
    assert task.id not in engine.state.tasks


# ---------------------------------------------------------------- 3. stopping


async def test_a_draining_scheduler_leases_nothing_and_refuses_commits_once_stopped(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine.apply_agent(agent_spec("agent-1", ("job",)))
    engine.apply_agent(agent_spec("remote-1", ("remote-job",), agent_type="remote"))
    local = await engine.submit(job())
    await settle(engine)
    assert executor.running_ids() == [local.id]
    remote_task = await engine.submit(job(type="remote-job"))

    stopping = asyncio.create_task(engine.stop(drain=5))
    await asyncio.sleep(0)  # stop() has begun: it waits for the local attempt to drain
    assert not engine.stopped.is_set()
    assert engine._dispatching is False
    assert await asyncio.wait_for(engine.lease("remote-1", max_tasks=5), 1) == []

    executor.finish(local.id)  # the drain ends
    await asyncio.wait_for(stopping, 5)
    assert engine.stopped.is_set()
    assert (await stored(store, local.id)).state is TaskState.SUCCEEDED
    saved = await stored(store, remote_task.id)
    assert (saved.state, saved.attempts) == (TaskState.QUEUED, 0)
    assert await store.executions_for(remote_task.id) == []

    with pytest.raises(JournalClosedError, match="the scheduler has stopped"):
        await asyncio.wait_for(engine.journal.commit(), 1)
    assert await asyncio.wait_for(engine.lease("remote-1"), 1) == []


# ---------------------------------------------------------------- 4. wait_for a submitted task


async def test_wait_for_a_submitted_task_waits_until_it_is_admitted_and_ends(
    engine: Engine, executor: StubExecutor, submissions: SubmissionService
) -> None:
    engine.apply_agent(agent_spec())
    engine.config = dataclasses.replace(engine.config, poll_interval=0.01)  # wait_for's poll
    [task] = await submissions.submit([job(payload={"n": 1})])
    assert task.state is TaskState.SUBMITTED

    waiting = asyncio.create_task(engine.wait_for(task.id))
    await asyncio.sleep(0.05)  # several of wait_for's polls: still not admitted
    assert not waiting.done()

    await engine.poller.poll()
    await settle(engine)
    assert executor.running_ids() == [task.id]
    assert not waiting.done()
    executor.finish(task.id)
    await settle(engine)
    ended = await asyncio.wait_for(waiting, 1)
    assert (ended.id, ended.state, ended.result) == (task.id, TaskState.SUCCEEDED, {"n": 1})


async def test_wait_for_a_submitted_task_fails_once_the_scheduler_stopped(
    engine: Engine, submissions: SubmissionService
) -> None:
    [task] = await submissions.submit([job()])
    await engine.stop(drain=0)
    with pytest.raises(JournalClosedError, match="stopped before the task ended"):
        await asyncio.wait_for(engine.wait_for(task.id), 1)


# ---------------------------------------------------------------- 5. cancel before admission


async def test_a_cancel_request_for_a_task_not_admitted_yet_is_kept_until_it_is(
    engine: Engine,
    executor: StubExecutor,
    store: MemoryStore,
    submissions: SubmissionService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine.apply_agent(agent_spec())
    [task] = await submissions.submit([job()])
    await submissions.cancel(task.id)
    assert await store.cancel_requested(task.id) is True

    monkeypatch.setattr(recovery, "SUBMITTED_BATCH", 0)  # this poll admits nothing
    await engine.poller.poll()
    await settle(engine)
    assert task.id not in engine.state.tasks
    assert (await stored(store, task.id)).state is TaskState.SUBMITTED
    assert await store.cancel_requested(task.id) is True

    monkeypatch.undo()
    await engine.poller.poll()
    await settle(engine)
    saved = await stored(store, task.id)
    assert (saved.state, saved.error_kind) == (TaskState.CANCELLED, "cancelled")
    assert await store.cancel_requested(task.id) is False
    assert executor.started == []
    assert await event_types(store, task.id) == ["task.submitted", "task.queued", "task.cancelled"]


# ---------------------------------------------------------------- 6. checks at submission


async def test_a_task_pinned_to_an_unregistered_agent_is_refused(
    engine: Engine, store: MemoryStore
) -> None:
    with pytest.raises(NotFoundError, match="pinned to agent 'ghost', which is not registered"):
        await engine.submit(job(pinned_agent="ghost"))
    workflow = WorkflowSpec(
        (TaskSpec("job", name="a"), TaskSpec("job", name="b", pinned_agent="ghost"))
    )
    with pytest.raises(NotFoundError, match="'ghost'"):
        await engine.submit_workflow(workflow)
    assert await all_tasks(store) == []


async def test_a_task_pinned_to_a_retired_agent_is_refused(
    engine: Engine, store: MemoryStore
) -> None:
    engine.apply_agent(agent_spec("old-1", status=AgentStatus.RETIRED))
    with pytest.raises(ConflictError, match="pinned to retired agent 'old-1'"):
        await engine.submit_many([job(), job(pinned_agent="old-1")])
    assert await all_tasks(store) == []

    engine.apply_agent(agent_spec("paused-1", status=AgentStatus.PAUSED))
    task = await engine.submit(job(pinned_agent="paused-1"))  # paused still takes work later
    assert (await stored(store, task.id)).state is TaskState.QUEUED


@pytest.fixture
async def checked(
    store: MemoryStore, executor: StubExecutor, clock: FakeClock, new_id: CountingIds
) -> AsyncIterator[Engine]:
    """A started engine that checks payloads with ``json_problem``, as the runtime's does."""
    lock = SchedulerLock(store, clock, "owner-j", LOCK_TTL)
    engine = Engine(
        store,
        executor,
        lock,
        clock,
        random.Random(0),
        new_id,
        make_config(),
        json_problem=json_problem,
    )
    await engine.start()
    yield engine
    if not engine.stopped.is_set():
        await asyncio.wait_for(engine.stop(drain=0), timeout=10)


async def test_a_payload_that_is_not_json_is_refused_and_nothing_is_stored(
    checked: Engine, store: MemoryStore
) -> None:
    with pytest.raises(ValidationError, match="the payload cannot be stored as JSON"):
        await checked.submit(job(payload={1, 2}))
    with pytest.raises(ValidationError, match="the payload cannot be stored as JSON"):
        await checked.submit_many([job(payload={"ok": 1}), job(payload=object())])
    workflow = WorkflowSpec((TaskSpec("job", name="a", payload={1, 2}),))
    with pytest.raises(ValidationError, match="the payload cannot be stored as JSON"):
        await checked.submit_workflow(workflow)
    assert await all_tasks(store) == []

    good = await checked.submit(job(payload={"n": [1, 2]}))  # the journal still writes
    assert checked.journal.failed is None
    saved = await stored(store, good.id)
    assert (saved.state, saved.payload) == (TaskState.QUEUED, {"n": [1, 2]})


# ---------------------------------------------------------------- 8. apply_agent


async def test_a_changed_agent_config_prepares_the_agent_again(
    engine: Engine, executor: StubExecutor
) -> None:
    spec = agent_spec()
    engine.apply_agent(spec)
    task = await engine.submit(job())
    await settle(engine)
    assert executor.prepared["agent-1"] == spec

    updated = dataclasses.replace(spec, config={"model": "big"}, updated_at=5.0)
    engine.apply_agent(updated)
    assert executor.prepared["agent-1"] == updated
    state = engine.state.agents["agent-1"]
    assert (state.spec, state.online, state.running) == (updated, True, 1)  # still counted
    assert executor.running_ids() == [task.id]


async def test_a_new_max_concurrency_reaches_the_executor_without_a_reload(
    engine: Engine, executor: StubExecutor
) -> None:
    """So that a Ray actor pool takes the size the autoscaler or ``agents update`` set."""
    spec = agent_spec(max_concurrency=1)
    engine.apply_agent(spec)
    task = await engine.submit(job())
    await settle(engine)
    wider = dataclasses.replace(spec, max_concurrency=3, updated_at=5.0)
    engine.apply_agent(wider)
    assert executor.prepared["agent-1"] == wider
    assert executor.running_ids() == [task.id]  # not reloaded: the attempt runs on


async def test_an_agent_that_fails_to_load_goes_offline_until_a_fixed_spec_loads(
    make_engine: MakeEngine, probe: ProbeStore
) -> None:
    executor = FlakyPrepare()
    engine = await make_engine(store=probe, executor=executor)
    broken = dataclasses.replace(agent_spec(), config={"broken": True})
    engine.apply_agent(broken)  # must not raise
    assert engine.state.agents["agent-1"].online is False
    assert "agent-1" not in executor.prepared
    task = await engine.submit(job())
    await settle(engine)
    assert executor.started == []
    assert load_failures(probe, "agent-1") == [
        {"error": "__init__() got an unexpected keyword argument 'modle'"}
    ]

    assert (await probe.agent_loads())["agent-1"].loaded is False  # what `agents list` reads

    fixed = dataclasses.replace(broken, config={})
    engine.apply_agent(fixed)
    await settle(engine)
    assert engine.state.agents["agent-1"].online is True
    assert executor.prepared["agent-1"] == fixed
    assert started_ids(executor) == [task.id]
    loads = [e.event_type for e in probe.written if e.event_type.startswith("agent.load")]
    assert loads == ["agent.load_failed", "agent.loaded"]
    assert (await probe.agent_loads())["agent-1"].loaded is True


async def test_an_agent_that_failed_to_load_is_loaded_again_on_any_change(
    make_engine: MakeEngine, probe: ProbeStore
) -> None:
    executor = FlakyPrepare()
    engine = await make_engine(store=probe, executor=executor)
    executor.failing = True  # e.g. a missing dependency, installed since
    spec = agent_spec()
    engine.apply_agent(spec)
    assert engine.state.agents["agent-1"].online is False

    executor.failing = False
    engine.apply_agent(dataclasses.replace(spec, description="same type and config"))
    assert engine.state.agents["agent-1"].online is True
    assert executor.prepared["agent-1"].description == "same type and config"
    await settle(engine)
    assert len(load_failures(probe, "agent-1")) == 1


async def test_an_agent_the_executor_names_reloadable_is_loaded_at_the_next_poll(
    make_engine: MakeEngine, probe: ProbeStore
) -> None:
    """E.g. a Ray agent refused while the connection to Ray was being made."""
    executor = FlakyPrepare()
    engine = await make_engine(store=probe, executor=executor)
    executor.failing = True
    engine.apply_agent(agent_spec())
    task = await engine.submit(job())
    executor.failing = False
    await engine.poller.poll()
    assert engine.state.agents["agent-1"].online is False  # not named: it waits for a change
    executor.reloadable = lambda: ["agent-1"]  # type: ignore[method-assign]
    await engine.poller.poll()
    assert engine.state.agents["agent-1"].online is True
    await settle(engine)
    assert started_ids(executor) == [task.id]


async def test_a_stored_agent_that_fails_to_load_does_not_stop_the_scheduler_starting(
    make_engine: MakeEngine, probe: ProbeStore
) -> None:
    broken = dataclasses.replace(agent_spec(), config={"broken": True})
    engine = await make_engine(store=probe, executor=FlakyPrepare(), agents=[broken])
    assert engine.state.agents["agent-1"].online is False
    assert len(load_failures(probe, "agent-1")) == 1


# ---------------------------------------------------------------- 6. stale agent rows


async def test_a_poll_that_read_an_agent_before_an_in_process_change_does_not_undo_it(
    engine: Engine, store: MemoryStore, clock: FakeClock
) -> None:
    active = dataclasses.replace(agent_spec(), updated_at=clock.now())
    await store.insert_agent(active)
    engine.apply_agent(active)
    paused = dataclasses.replace(active, status=AgentStatus.PAUSED, updated_at=clock.advance(1))
    engine.apply_agent(paused)  # the registry's change, told to the engine at once

    async def stale_read(_since: float) -> list[AgentSpec]:
        return [active]  # a poll whose read began before the pause was committed

    store.agents_changed_since = stale_read  # type: ignore[method-assign]
    await engine.poller.poll()
    assert engine.state.agents[active.id].spec.status is AgentStatus.PAUSED

    resumed = dataclasses.replace(paused, status=AgentStatus.ACTIVE, updated_at=clock.advance(1))

    async def newer_read(_since: float) -> list[AgentSpec]:
        return [resumed]  # another process resumed it later: that does apply

    store.agents_changed_since = newer_read  # type: ignore[method-assign]
    await engine.poller.poll()
    assert engine.state.agents[active.id].spec.status is AgentStatus.ACTIVE
