"""Protocols the core needs from the outside world. Adapters implement them; unit tests use
the in-memory store in ``adapters/storage/memory.py``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from imperium.domain.models import JSON, AgentSpec, AttemptResult, Event, Execution, Task
from imperium.domain.states import TaskState


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock seconds since the epoch."""
        ...


class EventSink(Protocol):
    """Receives events once they are durable (the engine's journal calls it after each
    commit; the agent registry after each change)."""

    def publish(self, events: Sequence[Event]) -> None: ...


class Rng(Protocol):
    def random(self) -> float:
        """A draw from [0, 1)."""
        ...


class TaskSnapshot(NamedTuple):
    """The mutable part of a task at one instant, as written to storage (a NamedTuple:
    one is taken per changed task per group commit)."""

    id: str
    state: TaskState
    attempts: int
    max_attempts: int
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

    def __len__(self) -> int:
        return len(self.inserts) + len(self.updates) + len(self.executions) + len(self.events)


@dataclass(frozen=True, slots=True)
class LockInfo:
    owner: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class TaskFilter:
    state: TaskState | None = None
    type: str | None = None
    agent_id: str | None = None
    workflow_id: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class AgentStats:
    """Figures computed from ``agent_task_executions`` for one agent."""

    agent_id: str
    executions: int
    succeeded: int
    failed: int
    mean_duration: float | None
    last_success: float | None
    last_failure: float | None


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


class AgentStore(Protocol):
    """Agent registry rows (``agent_metrics``)."""

    async def insert_agent(self, spec: AgentSpec) -> None:
        """Raises ConflictError when the id exists."""
        ...

    async def update_agent(self, spec: AgentSpec) -> None: ...

    async def get_agent(self, agent_id: str) -> AgentSpec | None: ...

    async def list_agents(self) -> list[AgentSpec]: ...

    async def log_event(self, event: Event) -> None: ...


class QueryStore(Protocol):
    """Reads for the CLI and API, and the writes other processes may make."""

    async def get_task(self, task_id: str) -> Task | None: ...

    async def cancel_requested(self, task_id: str) -> bool: ...

    async def list_tasks(self, flt: TaskFilter) -> list[Task]: ...

    async def count_tasks_by_state(self) -> dict[TaskState, int]: ...

    async def executions_for(self, task_id: str) -> list[Execution]: ...

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]: ...

    async def agent_stats(self) -> dict[str, AgentStats]: ...

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        """Store tasks in state ``submitted`` for the scheduler to admit."""
        ...

    async def request_cancel(self, task_id: str, at: float) -> None: ...

    async def resubmit(self, task_id: str, max_attempts: int, at: float) -> bool:
        """Put a dead, timed_out or failed task back to ``submitted`` with a new attempt
        budget; False if it is in another state."""
        ...


class Store(SchedulerStore, AgentStore, QueryStore, Protocol):
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt handed to an executor."""

    task_id: str
    type: str
    payload: JSON
    attempt: int
    token: int
    agent_id: str
    complexity: float
    deadline: float | None
    resources: dict[str, float]


class AttemptReporter(Protocol):
    def __call__(self, task_id: str, token: int, result: AttemptResult) -> None: ...


class Executor(Protocol):
    """Runs attempts on in-process agents and reports each outcome exactly once."""

    def prepare(self, spec: AgentSpec) -> None:
        """Load the agent's implementation; raises AgentLoadError if it cannot."""
        ...

    def forget(self, agent_id: str) -> None: ...

    def start(self, attempt: Attempt, report: AttemptReporter) -> None: ...

    def cancel(self, task_id: str) -> None:
        """Stop a running attempt; it reports nothing afterwards."""
        ...

    def running(self) -> int: ...

    async def close(self) -> None: ...
