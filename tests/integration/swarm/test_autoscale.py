"""Autoscaling on a started runtime over SQLite: a burst to a slow agent grows its pool
within its bounds, idling shrinks it back to its minimum, and every task succeeds exactly
once, also when the pool shrinks under running attempts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from imperium.domain.models import AgentSpec, Event
from imperium.domain.specs import TaskSpec
from imperium.domain.states import TaskState
from imperium.runtime import Imperium
from imperium.settings import Settings

BOUNDS = {"min": 1, "max": 4, "cooldown_seconds": 0.2, "target_wait_seconds": 0.1,
          "idle_seconds": 0.3}  # fmt: skip
BURST = 12


@pytest.fixture
async def im(make_migrated_database_url: Callable[[str], str]) -> AsyncIterator[Imperium]:
    settings = Settings(
        database_url=make_migrated_database_url("sqlite"),
        poll_interval=0.05,
        drain_seconds=0.2,
        autoscale_interval=0.05,
    )
    runtime = await Imperium.open(settings, migrate=False)
    await runtime.start()
    yield runtime
    await runtime.close()


async def until(check: Callable[[], bool], within: float = 20) -> None:
    async with asyncio.timeout(within):
        while True:
            if check():
                return
            await asyncio.sleep(0.01)


async def test_a_burst_grows_the_pool_and_idling_shrinks_it_with_no_task_lost(
    im: Imperium, tmp_path: Path
) -> None:
    await im.agents.register(
        AgentSpec("slow", "tests.support.agents:sleepy", frozenset({"slow"}),
                  config={"autoscale": BOUNDS})
    )  # fmt: skip
    scaled: list[Event] = []
    im.events.listen(
        lambda events: scaled.extend(e for e in events if e.event_type == "swarm.scaled")
    )
    autoscaler = im.autoscaler  # the server's routine runs it every autoscale_interval
    sizes: list[tuple[int, int]] = []  # (pool, running) seen on every tick of the loop

    def size() -> int:
        agent = im.engine.snapshot().agent("slow")
        assert agent is not None
        sizes.append((agent.spec.max_concurrency, agent.running))
        return agent.spec.max_concurrency

    log = tmp_path / "log"
    payload = {"sleep": 0.25, "log": str(log)}
    tasks = await im.engine.submit_many([TaskSpec("slow", payload) for _ in range(BURST)])
    await until(lambda: size() == 4)  # grown to its maximum, not beyond

    # shrink under running attempts: a manual scale to the minimum while four run
    await until(lambda: im.engine.snapshot().agent("slow").running == 4)  # type: ignore[union-attr]
    change = await autoscaler.set_size("slow", 1, "manual", "test")
    assert (change.before, change.after) == (4, 1)
    assert im.engine.snapshot().agent("slow").running == 4  # type: ignore[union-attr]

    ended = [await im.engine.wait_for(t.id) for t in tasks]
    assert [t.state for t in ended] == [TaskState.SUCCEEDED] * BURST
    await until(lambda: size() == 1 and sizes[-1][1] == 0)  # idle: back to its minimum

    assert max(s for s, _ in sizes) == 4
    assert min(s for s, _ in sizes) == 1
    lines = log.read_text().split()
    assert sorted(lines[0::2]) == sorted(t.id for t in tasks)  # each task ran once
    assert set(lines[1::2]) == {"1"}  # on its first attempt: no attempt lost
    triggers = [(e.data or {})["trigger"] for e in scaled]
    actions = [(e.data or {})["action"] for e in scaled]
    assert triggers[0] == "autoscale"
    assert actions[0] == "grow"
    assert "manual" in triggers
    assert actions[-1] == "shrink"
    grown_again = triggers.index("manual") + 1  # the backlog grew it again after the cooldown
    assert actions[grown_again] == "grow"
    for event in scaled:
        data = event.data or {}
        assert {"backlog", "wait", "running", "before", "after", "reason"} <= data.keys()
        assert 1 <= int(data["after"]) <= 4  # type: ignore[arg-type]
    [pool] = autoscaler.pools()
    assert pool.last is not None
    assert pool.last.decision.action == "shrink"
    assert im.routines is not None
    routine = {r["name"]: r for r in im.routines.snapshot()}["autoscale"]
    assert routine["runs"]
    assert routine["next_run"] is not None
