"""How everything outside the scheduler reads its live state: a snapshot (the agents and
active tasks as they are now, plus cheap counts) and a census (one pass over the active
tasks: where each waits). Readers never touch the scheduler's indexes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import cached_property
from typing import NamedTuple

from imperium.domain.models import AgentState, Task
from imperium.domain.states import PriorityLevel, TaskState
from imperium.services.engine.queues import ReadyQueues


class Census(NamedTuple):
    """Where the scheduler's active tasks are.

    ready: in a ready queue, waiting for a free agent; delayed: waiting out a retry backoff;
    unplaceable: no registered agent could ever take it (until one is registered or
    changed); pending: waiting on dependencies; running: an attempt runs."""

    ready: int
    delayed: int
    unplaceable: int
    pending: int
    running: int
    active: int
    queued_by_level: dict[PriorityLevel, int]  # ready, delayed and unplaceable together


def take_census(tasks: Collection[Task], queues: ReadyQueues) -> Census:
    delayed = unplaceable = pending = running = 0
    by_level = dict.fromkeys(PriorityLevel, 0)
    for task in tasks:
        if task.state is TaskState.PENDING:
            pending += 1
        elif task.state is TaskState.RUNNING:
            running += 1
        elif task.state is TaskState.QUEUED:
            by_level[task.priority] += 1
            if task.id not in queues:
                if task.not_before is not None:
                    delayed += 1
                else:
                    unplaceable += 1
    return Census(len(queues), delayed, unplaceable, pending, running, len(tasks), by_level)


class Snapshot:
    """The scheduler as it is now, for reading only. It reads the scheduler's own objects,
    not copies: use it without awaiting in between (the scheduler runs on the same event
    loop, so nothing changes meanwhile), and never change what it returns (changes go
    through the engine's methods). What costs a pass over the tasks is computed on demand.
    """

    def __init__(self, at: float, tasks: Mapping[str, Task], agents: Mapping[str, AgentState],
                 queues: ReadyQueues, commits: int) -> None:  # fmt: skip
        self.at = at
        self._tasks, self._agents, self._queues = tasks, agents, queues
        self.commits = commits  # group commits written since the scheduler started

    @property
    def tasks(self) -> Collection[Task]:
        """The active tasks: pending, queued or running."""
        return self._tasks.values()

    @cached_property
    def agents(self) -> tuple[AgentState, ...]:
        """Every registered agent, by id."""
        return tuple(sorted(self._agents.values(), key=lambda a: a.spec.id))

    def agent(self, agent_id: str) -> AgentState | None:
        return self._agents.get(agent_id)

    def task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    @property
    def ready(self) -> int:
        return len(self._queues)

    @property
    def active(self) -> int:
        return len(self._tasks)

    @cached_property
    def census(self) -> Census:
        return take_census(self._tasks.values(), self._queues)

    def queued(self) -> Iterable[Task]:
        return (t for t in self._tasks.values() if t.state is TaskState.QUEUED)

    def ready_tasks(self) -> Iterable[Task]:
        """The tasks in a ready queue: dispatchable now, waiting for a free agent (their
        ``ready_at`` says since when)."""
        return (t for t in self.queued() if t.id in self._queues)
