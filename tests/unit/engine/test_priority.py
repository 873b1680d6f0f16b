"""Invariant 4: among ready tasks an agent can take, the highest score runs first; ties
are FIFO; ageing prevents starvation; a deadline drawing near raises a task's key."""

from __future__ import annotations

import dataclasses

import pytest

from imperium.adapters.executors.stub import StubExecutor
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus, PriorityLevel
from imperium.services.engine import Engine

from .conftest import FakeClock, agent_spec, job, run_one_at_a_time, settle

CRITICAL, NORMAL, LOW = PriorityLevel.CRITICAL, PriorityLevel.NORMAL, PriorityLevel.LOW
BACKGROUND = PriorityLevel.BACKGROUND


@pytest.fixture
async def paused(engine: Engine) -> AgentSpec:
    """One agent, one slot, paused while the test fills the queue."""
    spec = agent_spec(max_concurrency=1, status=AgentStatus.PAUSED)
    engine.apply_agent(spec)
    return spec


def resume(engine: Engine, spec: AgentSpec) -> None:
    engine.apply_agent(dataclasses.replace(spec, status=AgentStatus.ACTIVE))


async def test_the_highest_level_runs_first_and_equal_levels_in_submission_order(
    engine: Engine, executor: StubExecutor, paused: AgentSpec
) -> None:
    low = await engine.submit(job(priority=LOW))
    normal_1 = await engine.submit(job(priority=NORMAL))
    critical = await engine.submit(job(priority=CRITICAL))
    normal_2 = await engine.submit(job(priority=NORMAL))
    await settle(engine)
    assert executor.started == []

    resume(engine, paused)
    order = await run_one_at_a_time(engine, executor)
    assert order == [critical.id, normal_1.id, normal_2.id, low.id]


async def test_ties_within_one_batch_run_in_submission_order(
    engine: Engine, executor: StubExecutor, paused: AgentSpec
) -> None:
    tasks = await engine.submit_many([job(payload=i) for i in range(6)])
    resume(engine, paused)
    assert await run_one_at_a_time(engine, executor) == [t.id for t in tasks]


async def test_an_old_background_task_runs_before_a_new_critical_one(
    engine: Engine, executor: StubExecutor, paused: AgentSpec, clock: FakeClock
) -> None:
    old = await engine.submit(job(priority=BACKGROUND))
    clock.advance(2 * 3600)  # 120 points of age against critical's 90-point lead
    new = await engine.submit(job(priority=CRITICAL))
    resume(engine, paused)
    assert await run_one_at_a_time(engine, executor) == [old.id, new.id]


async def test_a_background_task_of_an_hour_still_yields_to_a_new_critical_one(
    engine: Engine, executor: StubExecutor, paused: AgentSpec, clock: FakeClock
) -> None:
    old = await engine.submit(job(priority=BACKGROUND))
    clock.advance(3600)  # 60 points: not yet enough
    new = await engine.submit(job(priority=CRITICAL))
    resume(engine, paused)
    assert await run_one_at_a_time(engine, executor) == [new.id, old.id]


@pytest.mark.parametrize(
    ("wait", "first"),
    [(0.0, "earlier"), (200.0, "deadline")],
    ids=["before-the-urgency-step", "after-the-urgency-step"],
)
async def test_a_nearing_deadline_overtakes_a_same_level_task(
    engine: Engine,
    executor: StubExecutor,
    paused: AgentSpec,
    clock: FakeClock,
    wait: float,
    first: str,
) -> None:
    earlier = await engine.submit(job())
    clock.advance(30)  # half a point of age behind
    # more than a day left: no urgency yet; 100 s later less than a day: +1 point
    with_deadline = await engine.submit(job(deadline=clock.now() + 24 * 3600 + 100))
    clock.advance(wait)
    engine.process_timers()
    resume(engine, paused)
    order = await run_one_at_a_time(engine, executor)
    expected = {
        "earlier": [earlier.id, with_deadline.id],
        "deadline": [with_deadline.id, earlier.id],
    }
    assert order == expected[first]


async def test_a_close_deadline_counts_from_admission(
    engine: Engine, executor: StubExecutor, paused: AgentSpec, clock: FakeClock
) -> None:
    plain = await engine.submit(job())
    clock.advance(60)  # one point of age ahead ...
    urgent = await engine.submit(job(deadline=clock.now() + 30))  # ... against 16 of urgency
    resume(engine, paused)
    assert await run_one_at_a_time(engine, executor) == [urgent.id, plain.id]


async def test_the_score_is_stored_with_the_task(engine: Engine) -> None:
    critical = await engine.submit(job(priority=CRITICAL, estimated_duration=0.5))
    background = await engine.submit(job(priority=BACKGROUND, estimated_duration=7200))
    # critical 90 + duration 5 + resources 5; background 0 + 0 + 5
    assert critical.score == pytest.approx(100.0)
    assert background.score == pytest.approx(5.0)


async def test_ties_across_capability_queues_are_fifo(
    engine: Engine, executor: StubExecutor, clock: FakeClock
) -> None:
    spec = agent_spec(capabilities=("a", "b"), status=AgentStatus.PAUSED)
    engine.apply_agent(spec)
    await engine.submit(job(type="a", priority=LOW))  # creates the "a" queue first
    clock.advance(60)
    first, second = await engine.submit_many([job(type="b"), job(type="a")])
    resume(engine, spec)
    order = await run_one_at_a_time(engine, executor)
    assert order[:2] == [first.id, second.id]
