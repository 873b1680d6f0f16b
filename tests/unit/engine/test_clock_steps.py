"""Deadlines inside the running scheduler are on the monotonic clock: a step of the wall
clock (an NTP correction, a suspended VM) expires no lease and times out no attempt."""

from __future__ import annotations

from imperium.adapters.executors.stub import StubExecutor
from imperium.adapters.storage.memory import MemoryStore
from imperium.domain.models import AttemptResult
from imperium.domain.states import Outcome, TaskState

from .conftest import LEASE_SECONDS, FakeClock, MakeEngine, agent_spec, job, outcomes, settle


async def test_a_wall_clock_step_expires_no_lease_and_times_out_nothing(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    remote = agent_spec("remote-1", agent_type="remote", max_concurrency=2)
    engine = await make_engine(executor=StubExecutor(), agents=[remote])
    tasks = await engine.submit_many([job(timeout=60.0), job(timeout=60.0)])
    leases = await engine.lease("remote-1", max_tasks=2)
    clock.step_wall(3600.0)
    engine.process_timers()
    await settle(engine)
    assert [engine.state.tasks[t.id].state for t in tasks] == [TaskState.RUNNING] * 2
    for lease in leases:
        await engine.complete(lease.task_id, lease.token, AttemptResult(Outcome.SUCCEEDED))
    for task in tasks:
        assert await outcomes(store, task.id) == [(1, Outcome.SUCCEEDED)]


async def test_a_lease_still_expires_when_time_really_passes(
    make_engine: MakeEngine, store: MemoryStore, clock: FakeClock
) -> None:
    remote = agent_spec("remote-1", agent_type="remote")
    engine = await make_engine(executor=StubExecutor(), agents=[remote])
    task = await engine.submit(job())
    await engine.lease("remote-1")
    clock.step_wall(-3600.0)  # a step back does not keep it alive either
    clock.advance(LEASE_SECONDS + 1)
    engine.process_timers()
    await settle(engine)
    assert await outcomes(store, task.id) == [(1, Outcome.LOST)]
