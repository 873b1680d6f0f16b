"""The scheduler's store: what the engine reads at start and writes through group commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from imperium.domain.models import JSON, AgentSpec, Event, Execution, Task
from imperium.domain.states import TaskState
from imperium.domain.teams import TeamRun


class TaskSnapshot(NamedTuple):
    """The mutable part of a task at one instant, as written to storage (a NamedTuple:
    one is taken per changed task per group commit)."""

    id: str
    state: TaskState
    attempts: int
    max_attempts: int
    restarts: int
    lease_token: int
    agent_id: str | None
    lease_expires_at: float | None
    not_before: float | None
    started_at: float | None
    finished_at: float | None
    result: JSON
    error_kind: str | None
    error_message: str | None
    score: float
    updated_at: float

    @classmethod
    def of(cls, t: Task) -> TaskSnapshot:
        return cls(
            t.id,
            t.state,
            t.attempts,
            t.max_attempts,
            t.restarts,
            t.lease_token,
            t.agent_id,
            t.lease_expires_at,
            t.not_before,
            t.started_at,
            t.finished_at,
            t.result,
            t.error_kind,
            t.error_message,
            t.score,
            t.updated_at,
        )


@dataclass(slots=True)
class WriteBatch:
    """Everything one group commit writes, in one transaction."""

    inserts: list[tuple[Task, TaskSnapshot]] = field(default_factory=list)
    updates: list[TaskSnapshot] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    cancel_handled: list[str] = field(default_factory=list)
    teams: list[TeamRun] = field(default_factory=list)
    """Team rows submitted with their member tasks (in ``inserts``): they commit together."""

    def __len__(self) -> int:
        parts = (self.inserts, self.updates, self.executions, self.events, self.teams)
        return sum(len(part) for part in parts)


@dataclass(frozen=True, slots=True)
class LockInfo:
    owner: str
    expires_at: float


class SchedulerStore(Protocol):
    """What the scheduler reads at start and writes through group commit."""

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        """Write ``batch`` and extend the lock in one transaction.

        Raises LockLostError (writing nothing) when ``owner`` no longer holds the lock.
        """
        ...

    async def read_lock(self) -> LockInfo | None: ...

    async def swap_lock(self, expected: str | None, owner: str, expires_at: float) -> bool:
        """Set the lock to ``owner`` if its holder is ``expected``; True on success."""
        ...

    async def release_lock(self, owner: str) -> None: ...

    async def load_agents(self) -> list[AgentSpec]: ...

    async def agents_changed_since(self, since: float) -> list[AgentSpec]: ...

    async def load_active_tasks(self) -> list[Task]:
        """Tasks in pending, queued or running state."""
        ...

    async def fetch_submitted(self, limit: int) -> list[Task]: ...

    async def fetch_cancel_requests(self) -> list[str]: ...

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]: ...

    async def get_task(self, task_id: str) -> Task | None:
        """A task as stored (one that ended and left the scheduler's memory, say)."""
        ...

    async def request_cancel(self, task_id: str, at: float) -> None:
        """Ask for a task that is stored but not yet admitted to be cancelled."""
        ...
