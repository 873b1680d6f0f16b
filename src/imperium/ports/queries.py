"""Reads of tasks for the CLI and API, and the writes other processes may make."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.models import Event, Execution, Task
from imperium.domain.states import Outcome, TaskState
from imperium.ports.agents import AgentLoad, AgentStats


@dataclass(frozen=True, slots=True)
class TaskFilter:
    state: TaskState | None = None
    type: str | None = None
    agent_id: str | None = None
    workflow_id: str | None = None
    limit: int = 50
    offset: int = 0
    created_after: float | None = None
    """Only tasks created at or after this time (inclusive)."""
    created_before: float | None = None
    """Only tasks created before this time (exclusive)."""
    id_prefix: str | None = None
    """Only tasks whose id starts with this text."""
    after: tuple[float, str] | None = None
    """Keyset pagination: only tasks after this ``(created_at, id)`` in the listing's
    order (newest first), i.e. the last row of the previous page."""


class QueryStore(Protocol):
    """Reads for the CLI and API, and the writes other processes may make."""

    async def get_task(self, task_id: str) -> Task | None: ...

    async def cancel_requested(self, task_id: str) -> bool: ...

    async def list_tasks(self, flt: TaskFilter) -> list[Task]: ...

    async def count_tasks_by_state(self) -> dict[TaskState, int]: ...

    async def count_executions_by_outcome(self) -> dict[Outcome, int]:
        """Recorded attempts per outcome, every outcome present (0 when none)."""
        ...

    async def executions_for(self, task_id: str) -> list[Execution]: ...

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]: ...

    async def agent_stats(self, agent_id: str | None = None) -> dict[str, AgentStats]:
        """Figures of every agent with a counted execution, or of ``agent_id`` only."""
        ...

    async def agent_loads(self) -> dict[str, AgentLoad]:
        """Per local agent a scheduler tried to load, how its latest attempt went."""
        ...

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        """Store tasks in state ``submitted`` for the scheduler to admit."""
        ...

    async def request_cancel(self, task_id: str, at: float) -> None: ...

    async def resubmit(self, task_id: str, max_attempts: int, at: float) -> bool:
        """Put a dead, timed_out or failed task back to ``submitted`` with a new attempt
        budget; False if it is in another state."""
        ...
