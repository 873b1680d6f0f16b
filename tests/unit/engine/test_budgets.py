"""Per-agent daily budgets in the engine: an agent that reached its budget receives
nothing until the next UTC day, the waiting task says why, ``agent.budget_spent`` is
written once per agent per day (also across a restart), and a raised budget frees it."""

from __future__ import annotations

import dataclasses
from typing import Any

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.usage import MemoryUsageStore
from imperium.domain.budgets import DAY, day_start
from imperium.domain.models import AgentSpec, AttemptResult
from imperium.domain.states import Outcome
from imperium.services.engine import Engine

from .conftest import FakeClock, MakeEngine, agent_spec, job, settle, started_ids


def budgeted(agent_id: str = "writer", **budget: Any) -> AgentSpec:
    spec = agent_spec(agent_id, max_concurrency=5)
    return dataclasses.replace(spec, config={"budget": budget})


def used(tokens: int | None = None, cost: float | None = None) -> AttemptResult:
    return AttemptResult(Outcome.SUCCEEDED, "ok", tokens=tokens, cost=cost)


async def budget_events(store: MemoryStore) -> list[dict[str, Any]]:
    return [e.data or {} for e in store.state.events if e.event_type == "agent.budget_spent"]


async def run_and_finish(engine: Engine, executor: StubExecutor, result: AttemptResult) -> str:
    task = await engine.submit(job())
    await settle(engine)
    executor.finish(task.id, result)
    await settle(engine)
    return task.id


async def test_an_agent_that_spent_its_tokens_takes_nothing_until_the_next_utc_day(
    engine: Engine, executor: StubExecutor, store: MemoryStore, clock: FakeClock
) -> None:
    engine.apply_agent(budgeted(tokens_per_day=100))
    await run_and_finish(engine, executor, used(tokens=60))
    assert await budget_events(store) == []
    await run_and_finish(engine, executor, used(tokens=45))  # 105 >= 100: reached
    [event] = await budget_events(store)
    assert event == {
        "agent_id": "writer", "agent_name": "writer", "kind": "tokens", "limit": 100,
        "spent": 105, "resets_at": day_start(clock.now()) + DAY,
    }  # fmt: skip

    waiting = await engine.submit(job())
    await settle(engine)
    assert waiting.id not in started_ids(executor)
    [parked] = [e for e in await store.events_for(waiting.id)
                if e.event_type == "task.unplaceable"]  # fmt: skip
    assert "writer has spent its daily token budget (105 of 100)" in parked.data["reason"]
    assert "00:00 UTC" in parked.data["reason"]

    clock.advance(day_start(clock.now()) + DAY - clock.now() + 1)  # just past midnight
    engine.process_timers()
    await settle(engine)
    assert waiting.id in started_ids(executor)
    assert len(await budget_events(store)) == 1


async def test_a_cost_budget_counts_reported_cost_and_the_event_is_written_once(
    engine: Engine, executor: StubExecutor, store: MemoryStore
) -> None:
    engine.apply_agent(budgeted(cost_per_day=0.01))
    await run_and_finish(engine, executor, used(tokens=10, cost=0.004))
    await run_and_finish(engine, executor, used(tokens=10, cost=0.006))
    [event] = await budget_events(store)
    assert (event["kind"], event["limit"], event["spent"]) == ("cost", 0.01, 0.01)
    engine.apply_agent(budgeted(cost_per_day=0.01))  # the same budget again: no new event
    await settle(engine)
    assert len(await budget_events(store)) == 1


async def test_raising_the_budget_frees_the_agent_and_waiting_work(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(budgeted(tokens_per_day=10))
    await run_and_finish(engine, executor, used(tokens=10))
    waiting = await engine.submit(job())
    await settle(engine)
    assert waiting.id not in started_ids(executor)
    engine.apply_agent(budgeted(tokens_per_day=1000))
    await settle(engine)
    assert waiting.id in started_ids(executor)


async def test_another_agent_without_a_budget_still_takes_the_work(
    engine: Engine, executor: StubExecutor
) -> None:
    engine.apply_agent(budgeted(tokens_per_day=10))
    await run_and_finish(engine, executor, used(tokens=50))
    engine.apply_agent(agent_spec("spare"))
    task = await engine.submit(job())
    await settle(engine)
    assert {a.task_id: a.agent_id for a in executor.started}[task.id] == "spare"


async def test_a_restart_rebuilds_todays_spend_without_a_second_event(
    make_engine: MakeEngine, store: MemoryStore, executor: StubExecutor
) -> None:
    usage = MemoryUsageStore(store.state)

    async def source(since: float) -> tuple[dict[str, tuple[int, float]], set[str]]:
        return await usage.spent_since(since), await usage.budget_events_since(since)

    first = await make_engine(agents=[budgeted(tokens_per_day=100)], start=False)
    first.budget_source = source
    await first.start()
    await run_and_finish(first, executor, used(tokens=120))
    await first.stop(drain=0)
    assert len(await budget_events(store)) == 1

    second = await make_engine(start=False, owner="owner-y")
    second.budget_source = source
    await second.start()
    task = await second.submit(job())
    await settle(second)
    assert task.id not in [a.task_id for a in executor.started]  # still held after restart
    assert len(await budget_events(store)) == 1


async def test_another_agents_attempt_after_midnight_frees_the_held_agents_work(
    engine: Engine, executor: StubExecutor, clock: FakeClock
) -> None:
    """The day rolls on whichever spend is recorded first; that one need not be the held
    agent's, and the work parked for the held agent is placed again at once."""
    engine.apply_agent(budgeted(tokens_per_day=10))
    await run_and_finish(engine, executor, used(tokens=20))  # writer held
    engine.apply_agent(agent_spec("other", capabilities=("other",)))
    long = await engine.submit(job(type="other"))
    await settle(engine)
    waiting = await engine.submit(job())
    await settle(engine)
    assert waiting.id not in started_ids(executor)
    clock.advance(day_start(clock.now()) + DAY - clock.now() + 1)  # just past midnight
    executor.finish(long.id, used(tokens=5))  # recorded before any timer tick
    await settle(engine)
    assert waiting.id in started_ids(executor)
