"""``MemorySchedulerStore``: the ``SchedulerStore`` port in memory. ``apply`` checks the
lock and every uniqueness rule before writing anything (``LockLostError``,
``ConflictError``), as the SQL store's transaction does."""

from __future__ import annotations

from collections.abc import Sequence

from imperium.adapters.storage.memory._state import (
    MemoryArea,
    copy_agent,
    copy_event,
    copy_execution,
    copy_task,
    duplicates,
    set_snapshot,
)
from imperium.adapters.storage.memory.teams import copy_team
from imperium.domain.errors import ConflictError, LockLostError
from imperium.domain.models import AgentSpec, Task
from imperium.domain.states import ACTIVE_STATES, TaskState
from imperium.ports import LockInfo, WriteBatch

_LOADED_STATES = frozenset({TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING})


class TaskRows(MemoryArea):
    """What the scheduler's store and the task store both answer about single tasks."""

    async def get_task(self, task_id: str) -> Task | None:
        stored = self.state.tasks.get(task_id)
        return copy_task(stored) if stored is not None else None

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return {i: self.state.tasks[i].state for i in ids if i in self.state.tasks}

    async def request_cancel(self, task_id: str, at: float) -> None:
        """Mark an active task for cancellation; the first request's time is kept."""
        task = self.state.tasks.get(task_id)
        if task is not None and task.state in ACTIVE_STATES:
            self.state.cancel_requested_at.setdefault(task_id, at)


class MemorySchedulerStore(TaskRows):
    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        s = self.state
        if s.lock is None or s.lock.owner != owner:
            raise LockLostError(
                f"scheduler '{owner}' no longer holds the database lock; it must stop writing"
            )
        self._check_new(batch)
        s.lock = LockInfo(owner, lock_expires_at)
        for task, snap in batch.inserts:
            s.store_task(task, snap)
        for snap in batch.updates:
            if snap.id in s.tasks:
                set_snapshot(s.tasks[snap.id], snap)
        for execution in batch.executions:
            s.executions[(execution.task_id, execution.attempt)] = copy_execution(execution)
        s.events.extend(copy_event(e) for e in batch.events)
        for team in batch.teams:
            s.teams[team.team_id] = copy_team(team)
        for task_id in batch.cancel_handled:
            s.cancel_requested_at.pop(task_id, None)

    def _check_new(self, batch: WriteBatch) -> None:
        """Refuse a batch that would record a task, an attempt or a team twice, as the SQL
        store's unique constraints do."""
        s = self.state
        clash = (
            duplicates([task.id for task, _ in batch.inserts], s.tasks)
            or duplicates([(e.task_id, e.attempt) for e in batch.executions], s.executions)
            or duplicates([t.team_id for t in batch.teams], s.teams)
        )
        if clash:
            raise ConflictError(
                "the batch records something already stored (a task id, an execution "
                f"for a task attempt, or a team id); nothing was written: {clash[0]!r}"
            )

    async def read_lock(self) -> LockInfo | None:
        return self.state.lock

    async def swap_lock(self, expected: str | None, owner: str, expires_at: float) -> bool:
        holder = self.state.lock.owner if self.state.lock is not None else None
        if holder != expected:
            return False
        self.state.lock = LockInfo(owner, expires_at)
        return True

    async def release_lock(self, owner: str) -> None:
        if self.state.lock is not None and self.state.lock.owner == owner:
            self.state.lock = None

    async def load_agents(self) -> list[AgentSpec]:
        agents = self.state.agents
        return [copy_agent(agents[key]) for key in sorted(agents)]

    async def agents_changed_since(self, since: float) -> list[AgentSpec]:
        return [a for a in await self.load_agents() if a.updated_at >= since]

    async def load_active_tasks(self) -> list[Task]:
        return [copy_task(t) for t in self.state.tasks.values() if t.state in _LOADED_STATES]

    async def fetch_submitted(self, limit: int) -> list[Task]:
        submitted = [t for t in self.state.tasks.values() if t.state is TaskState.SUBMITTED]
        submitted.sort(key=lambda t: (t.created_at, t.id))
        return [copy_task(t) for t in submitted[:limit]]

    async def fetch_cancel_requests(self) -> list[str]:
        return [
            task_id
            for task_id in self.state.cancel_requested_at
            if self.state.tasks[task_id].state in ACTIVE_STATES
        ]
