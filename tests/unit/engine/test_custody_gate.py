"""Agents below the custody level a task type requires are not routed such tasks."""

from __future__ import annotations

from imperium.adapters.executors.stub import StubExecutor
from imperium.services.engine import Engine

from .conftest import agent_spec, job, settle, started_ids


def agent_of(executor: StubExecutor) -> dict[str, str]:
    return {a.task_id: a.agent_id for a in executor.started}


async def test_only_qualified_agents_receive_gated_task_types(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.min_levels = {"job": 3}
    engine.set_custody_levels({"senior": 3, "junior": 1})
    engine.apply_agent(agent_spec("junior", max_concurrency=5))
    engine.apply_agent(agent_spec("senior", max_concurrency=5))
    tasks = [await engine.submit(job()) for _ in range(4)]
    await settle(engine)
    assert set(agent_of(executor).values()) == {"senior"}
    assert sorted(agent_of(executor)) == sorted(t.id for t in tasks)


async def test_a_gated_task_waits_with_a_reason_until_an_agent_qualifies(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.min_levels = {"job": 2}
    engine.apply_agent(agent_spec("junior"))
    task = await engine.submit(job())
    other = await engine.submit(job(type="other", capabilities=("job",)))
    await settle(engine)
    assert started_ids(executor) == [other.id]  # ungated work is not held back
    events = await engine.store.events_for(task.id)
    [parked] = [e for e in events if e.event_type == "task.unplaceable"]
    assert "requires custody level 2" in str(parked.data)

    executor.finish(other.id)
    engine.set_custody_levels({"junior": 2})
    await settle(engine)
    assert agent_of(executor)[task.id] == "junior"


async def test_a_task_pinned_to_an_agent_is_not_gated(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.min_levels = {"job": 5}
    engine.apply_agent(agent_spec("junior"))
    task = await engine.submit(job(pinned_agent="junior"))
    await settle(engine)
    assert agent_of(executor) == {task.id: "junior"}


async def test_a_gated_task_waiting_for_a_busy_qualified_agent_holds_nothing_back(
    engine: Engine, executor: StubExecutor
) -> None:
    """Gated tasks queue apart: while the only qualified agent is busy, the ungated tasks
    behind a gated one (same capabilities, lower priority) go to the free junior."""
    engine.min_levels = {"deploy": 3}
    engine.set_custody_levels({"senior": 3, "junior": 1})
    engine.apply_agent(agent_spec("senior"))
    busy = await engine.submit(job(type="deploy", capabilities=("job",)))
    await settle(engine)
    assert agent_of(executor) == {busy.id: "senior"}

    engine.apply_agent(agent_spec("junior"))
    gated = await engine.submit(job(type="deploy", capabilities=("job",), priority="high"))
    behind = await engine.submit(job(priority="low"))
    await settle(engine)
    assert agent_of(executor) == {busy.id: "senior", behind.id: "junior"}

    executor.finish(busy.id)
    await settle(engine)
    assert agent_of(executor)[gated.id] == "senior"


async def test_changing_the_required_levels_moves_queued_tasks(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.set_custody_levels({"senior": 2, "junior": 1})
    engine.apply_agent(agent_spec("senior"))
    engine.apply_agent(agent_spec("junior"))
    first, second = await engine.submit(job()), await engine.submit(job())
    await settle(engine)
    assert set(agent_of(executor).values()) == {"senior", "junior"}  # both busy
    deploys = [await engine.submit(job(type="deploy", capabilities=("job",))) for _ in "ab"]
    ungated = await engine.submit(job(priority="low"))
    await settle(engine)

    engine.min_levels = {"deploy": 2}  # the queued deploys move to a queue of their own
    by_agent = {a: t for t, a in agent_of(executor).items()}
    executor.finish(by_agent["junior"])
    await settle(engine)
    assert agent_of(executor)[ungated.id] == "junior"  # not held back by the deploys
    executor.finish(by_agent["senior"])
    await settle(engine)
    assert agent_of(executor)[deploys[0].id] == "senior"
    assert deploys[1].id not in agent_of(executor)  # waits for senior, not junior
    assert {first.id, second.id} <= set(agent_of(executor))
