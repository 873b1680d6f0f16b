"""Slots per agent ("bots") and the seed's four queues."""

from __future__ import annotations

import pytest

from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.states import AgentStatus, PriorityLevel, TaskState
from imperium.services.swarm.snapshot import (
    agent_slots,
    bot_status,
    condition,
    queue_lengths,
    queued_by_level,
)


def state(
    agent_id: str = "a",
    size: int = 4,
    running: int = 0,
    status: AgentStatus = AgentStatus.ACTIVE,
    remote: bool = False,
    online: bool = True,
    heartbeat: float | None = None,
) -> AgentState:
    spec = AgentSpec(id=agent_id, type="remote" if remote else "echo", max_concurrency=size,
                     status=status)  # fmt: skip
    return AgentState(spec, remote=remote, running=running, online=online, last_heartbeat=heartbeat)


@pytest.mark.parametrize(
    ("agent", "cond", "slots"),
    [
        # (working, idle, maintenance, failed)
        (state(running=1), "active", (1, 3, 0, 0)),
        (state(running=1, status=AgentStatus.PAUSED), "paused", (1, 0, 3, 0)),
        (state(running=0, online=False), "load_failed", (0, 0, 0, 4)),
        (state(remote=True, online=False), "not_connected", (0, 0, 0, 4)),
        (state(remote=True, online=False, heartbeat=1.0, running=2), "offline", (2, 0, 0, 2)),
        (state(running=6), "active", (6, 0, 0, 0)),  # scaled down below what it runs
        (state(running=1, status=AgentStatus.RETIRED), "retired", (0, 0, 0, 0)),
    ],
)
def test_slots_by_condition(agent: AgentState, cond: str, slots: tuple[int, ...]) -> None:
    s = agent_slots(agent)
    assert condition(agent) == s.condition == cond
    assert (s.working, s.idle, s.maintenance, s.failed) == slots
    assert s.slots == sum(slots)


def test_bot_status_adds_up_to_every_slot() -> None:
    slots = [agent_slots(a) for a in (state("a", 4, 1), state("b", 2, status=AgentStatus.PAUSED))]
    assert bot_status(slots) == {"idle": 3, "working": 1, "failed": 0, "maintenance": 2}
    assert sum(bot_status(slots).values()) == sum(s.slots for s in slots) == 6


def task(level: PriorityLevel, state_: TaskState = TaskState.QUEUED) -> Task:
    return Task(id=f"{level}-{state_}", type="x", created_at=0.0, priority=level, state=state_)


def test_four_queues_from_five_levels() -> None:
    tasks = [task(level) for level in PriorityLevel]
    tasks += [task(PriorityLevel.HIGH), task(PriorityLevel.HIGH, TaskState.RUNNING)]
    tasks += [task(PriorityLevel.LOW, TaskState.PENDING)]
    by_level = queued_by_level(tasks)
    assert by_level[PriorityLevel.HIGH] == 2  # running and pending tasks are not queued
    assert by_level[PriorityLevel.LOW] == 1
    assert queue_lengths(by_level) == {
        "priority_1": 1,
        "priority_2": 2,
        "priority_3": 1,
        "priority_4": 2,  # low and background
    }
