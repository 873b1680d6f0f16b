"""Invariant 5: an agent never runs more than its ``max_concurrency`` or the resources it
offers; paused, retired or offline agents receive nothing new; tasks go only to agents
with the capabilities they need, through the selection policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.errors import ConflictError
from imperium.domain.models import AgentState, Execution, Task
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState
from imperium.services.engine import Engine

from .conftest import MakeEngine, agent_spec, job, settle, started_ids, stored


def agent_of(executor: StubExecutor) -> dict[str, str]:
    return {a.task_id: a.agent_id for a in executor.started}


async def test_an_agent_never_runs_more_than_its_max_concurrency(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(agent_spec(max_concurrency=2))
    tasks = await engine.submit_many([job(payload=i) for i in range(5)])
    await settle(engine)
    assert started_ids(executor) == [tasks[0].id, tasks[1].id]

    for finished in range(5):
        assert executor.running() <= 2
        executor.finish(tasks[finished].id)
        await settle(engine)
        assert len(executor.started) == min(5, finished + 3)
    assert executor.running() == 0
    assert engine.state.agents["agent-1"].running == 0


@pytest.mark.parametrize("status", [AgentStatus.PAUSED, AgentStatus.RETIRED])
async def test_paused_and_retired_agents_get_nothing_new_but_finish_their_work(
    engine: Engine, executor: StubExecutor, store: MemoryStore, status: AgentStatus
) -> None:
    spec = agent_spec(max_concurrency=2)
    engine.apply_agent(spec)
    running = await engine.submit(job())
    await settle(engine)
    engine.apply_agent(dataclasses.replace(spec, status=status))
    waiting = await engine.submit(job())
    await settle(engine)
    assert started_ids(executor) == [running.id]

    executor.finish(running.id)
    await settle(engine)
    assert (await stored(store, running.id)).state is TaskState.SUCCEEDED
    assert started_ids(executor) == [running.id]
    assert (await stored(store, waiting.id)).state is TaskState.QUEUED

    engine.apply_agent(spec)  # active again
    await settle(engine)
    assert started_ids(executor) == [running.id, waiting.id]


async def test_an_agent_that_cannot_load_is_offline_and_gets_nothing(
    make_engine: MakeEngine, store: MemoryStore
) -> None:
    executor = StubExecutor(unknown_types=frozenset({"missing.module:Agent"}))
    engine = await make_engine(executor=executor)
    engine.apply_agent(agent_spec("broken", agent_type="missing.module:Agent"))
    assert engine.state.agents["broken"].online is False
    task = await engine.submit(job())
    await settle(engine)
    assert executor.started == []
    assert (await stored(store, task.id)).state is TaskState.QUEUED


async def test_a_retired_remote_agent_cannot_lease(engine: Engine) -> None:
    spec = agent_spec("remote-1", agent_type="remote")
    engine.apply_agent(dataclasses.replace(spec, status=AgentStatus.RETIRED))
    await engine.submit(job())
    with pytest.raises(ConflictError, match="retired"):
        await engine.lease("remote-1")


async def test_a_paused_remote_agent_leases_nothing(engine: Engine) -> None:
    engine.apply_agent(agent_spec("remote-1", agent_type="remote", status=AgentStatus.PAUSED))
    await engine.submit(job())
    assert await engine.lease("remote-1", max_tasks=5) == []


async def test_a_remote_lease_respects_max_concurrency(engine: Engine) -> None:
    engine.apply_agent(agent_spec("remote-1", agent_type="remote", max_concurrency=2))
    tasks = await engine.submit_many([job(), job(), job()])
    leases = await engine.lease("remote-1", max_tasks=10)
    assert [lease.task_id for lease in leases] == [tasks[0].id, tasks[1].id]
    assert await engine.lease("remote-1", max_tasks=10) == []


@pytest.mark.parametrize(("cpu", "at_once"), [(1.0, 2), (1.5, 1), (2.0, 1), (0.5, 3)])
async def test_resources_limit_how_many_run_at_once(
    engine: Engine, executor: StubExecutor, cpu: float, at_once: int
) -> None:
    engine.apply_agent(agent_spec(max_concurrency=3, resources={"cpu": 2.0}))
    tasks = await engine.submit_many([job(resources={"cpu": cpu}) for _ in range(4)])
    await settle(engine)
    assert started_ids(executor) == [t.id for t in tasks[:at_once]]
    assert engine.state.agents["agent-1"].resources_in_use == {"cpu": pytest.approx(cpu * at_once)}

    executor.finish(tasks[0].id)
    await settle(engine)
    assert started_ids(executor) == [t.id for t in tasks[: at_once + 1]]


async def test_a_task_needing_a_resource_the_agent_lacks_does_not_go_there(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(agent_spec("cpu-only", resources={"cpu": 4.0}))
    engine.apply_agent(agent_spec("gpu-box", resources={"cpu": 4.0, "gpu": 1.0}))
    task = await engine.submit(job(resources={"gpu": 1.0}))
    await settle(engine)
    assert agent_of(executor) == {task.id: "gpu-box"}


async def test_an_agent_without_declared_resources_is_limited_by_slots_only(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(agent_spec(max_concurrency=2))
    await engine.submit_many([job(resources={"cpu": 64.0, "gpu": 8.0}) for _ in range(3)])
    await settle(engine)
    assert len(executor.started) == 2


async def test_tasks_go_only_to_agents_with_all_their_capabilities(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine.apply_agent(agent_spec("narrow", capabilities=("summarize",), max_concurrency=5))
    engine.apply_agent(agent_spec("broad", capabilities=("summarize", "translate", "x")))
    both = await engine.submit(job(type="text", capabilities=("summarize", "translate")))
    by_type = await engine.submit(job(type="summarize"))  # needs its own type
    nobody = await engine.submit(job(type="paint"))
    await settle(engine)
    assert agent_of(executor) == {both.id: "broad", by_type.id: "narrow"}
    assert (await stored(store, nobody.id)).state is TaskState.QUEUED


async def test_a_pinned_task_runs_only_on_its_agent(engine: Engine, executor: StubExecutor) -> None:
    engine.apply_agent(agent_spec("agent-1", max_concurrency=5))
    engine.apply_agent(agent_spec("agent-2", capabilities=("other",), max_concurrency=1))
    first = await engine.submit(job(pinned_agent="agent-2"))
    second = await engine.submit(job(pinned_agent="agent-2"))
    await settle(engine)
    assert agent_of(executor) == {first.id: "agent-2"}  # agent-1 is idle but not chosen
    executor.finish(first.id)
    await settle(engine)
    assert agent_of(executor) == {first.id: "agent-2", second.id: "agent-2"}


async def test_the_least_loaded_capable_agent_gets_the_task(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(agent_spec("agent-b", max_concurrency=4))
    engine.apply_agent(agent_spec("agent-a", max_concurrency=2))
    tasks = await engine.submit_many([job(payload=i) for i in range(3)])
    await settle(engine)
    # equal load: agent priority then id -> agent-a; then agent-b (0/4 < 1/2);
    # then agent-b again (1/4 < 1/2)
    assert [agent_of(executor)[t.id] for t in tasks] == ["agent-a", "agent-b", "agent-b"]


class PickLast:
    """A policy that takes the candidate with the highest id and remembers what it saw."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.observed: list[Execution] = []

    def choose(self, task: Task, candidates: Sequence[AgentState]) -> AgentState:
        self.calls.append((task.id, [a.spec.id for a in candidates]))
        return max(candidates, key=lambda a: a.spec.id)

    def observe(self, execution: Execution) -> None:
        self.observed.append(execution)


async def test_a_custom_selection_policy_is_consulted(
    make_engine: MakeEngine, executor: StubExecutor
) -> None:
    policy = PickLast()
    engine = await make_engine(policy=policy)
    for agent_id in ("agent-1", "agent-2", "agent-3"):
        engine.apply_agent(agent_spec(agent_id, max_concurrency=2))
    task = await engine.submit(job())
    await settle(engine)
    assert agent_of(executor) == {task.id: "agent-3"}
    assert policy.calls == [(task.id, ["agent-1", "agent-2", "agent-3"])]
    executor.finish(task.id)
    await settle(engine)
    assert [(e.task_id, e.agent_id, e.outcome) for e in policy.observed] == [
        (task.id, "agent-3", "succeeded")
    ]


class Broken:
    def __init__(self, pick: AgentState | None = None) -> None:
        self.pick = pick

    def choose(self, task: Task, candidates: Sequence[AgentState]) -> AgentState:
        if self.pick is None:
            raise RuntimeError("policy crashed")
        return self.pick

    def observe(self, execution: Execution) -> None:
        raise RuntimeError("policy crashed while learning")


@pytest.mark.parametrize("outsider", [False, True], ids=["raises", "picks-an-outsider"])
async def test_a_failing_policy_falls_back_to_least_loaded(
    make_engine: MakeEngine, executor: StubExecutor, outsider: bool
) -> None:
    policy = Broken()
    engine = await make_engine(policy=policy)
    engine.apply_agent(agent_spec("agent-1", max_concurrency=2))
    engine.apply_agent(agent_spec("agent-2", max_concurrency=2))
    if outsider:
        engine.apply_agent(agent_spec("busy", capabilities=("other",)))
        policy.pick = engine.state.agents["busy"]
    task = await engine.submit(job())
    await settle(engine)
    assert agent_of(executor) == {task.id: "agent-1"}
    executor.finish(task.id)  # a policy that fails to learn does not stop the engine
    await settle(engine)
    assert (await engine.wait_for(task.id)).state is TaskState.SUCCEEDED


async def test_a_task_no_agent_can_take_does_not_block_the_others(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(agent_spec(max_concurrency=2, resources={"cpu": 4.0}))
    never_placeable = job(priority=PriorityLevel.CRITICAL, resources={"gpu": 1.0})
    await engine.submit(never_placeable)
    runnable = await engine.submit(job())
    await settle(engine)
    assert started_ids(executor) == [runnable.id]
