"""Task states, attempt outcomes and agent statuses."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task is in its life.

    ``submitted`` is a task written by another process (the CLI) that the scheduler has not
    admitted yet; ``pending`` waits on dependencies; ``queued`` is ready (or waiting out a
    retry backoff); ``running`` holds a lease on an agent.
    """

    SUBMITTED = "submitted"
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_dead_letter(self) -> bool:
        """Attempts exhausted: the task sits in the dead-letter set until retried by hand."""
        return self in (TaskState.DEAD, TaskState.TIMED_OUT)


TERMINAL_STATES = frozenset(
    {
        TaskState.SUCCEEDED,
        TaskState.FAILED,
        TaskState.DEAD,
        TaskState.CANCELLED,
        TaskState.TIMED_OUT,
    }
)
ACTIVE_STATES = frozenset(set(TaskState) - TERMINAL_STATES)

_ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    TaskState.SUBMITTED: frozenset(
        {TaskState.PENDING, TaskState.QUEUED, TaskState.CANCELLED, TaskState.FAILED}
    ),
    TaskState.PENDING: frozenset({TaskState.QUEUED, TaskState.CANCELLED, TaskState.FAILED}),
    TaskState.QUEUED: frozenset({TaskState.RUNNING, TaskState.CANCELLED, TaskState.FAILED}),
    TaskState.RUNNING: frozenset(
        {
            TaskState.SUCCEEDED,
            TaskState.FAILED,
            TaskState.QUEUED,
            TaskState.DEAD,
            TaskState.CANCELLED,
            TaskState.TIMED_OUT,
        }
    ),
    # retried by hand: back to queued, or pending while its dependencies run again
    TaskState.DEAD: frozenset({TaskState.QUEUED, TaskState.PENDING, TaskState.FAILED}),
    TaskState.TIMED_OUT: frozenset({TaskState.QUEUED, TaskState.PENDING, TaskState.FAILED}),
    TaskState.FAILED: frozenset({TaskState.QUEUED, TaskState.PENDING}),
    TaskState.SUCCEEDED: frozenset(),
    TaskState.CANCELLED: frozenset(),
}


def can_transition(current: TaskState, new: TaskState) -> bool:
    """True when the state machine allows ``current -> new``."""
    return new in _ALLOWED[current]


class Outcome(StrEnum):
    """How one attempt (one execution row) ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LOST = "lost"
    """The lease expired or the scheduler died while the attempt ran."""
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """Stopped by a graceful shutdown and re-queued; does not use up an attempt."""
    CACHED = "cached"
    """Served from the result cache: no agent ran, so it teaches nothing about one (the
    task succeeded with the stored result)."""


class AgentStatus(StrEnum):
    """Whether an agent may receive new work."""

    ACTIVE = "active"
    PAUSED = "paused"
    RETIRED = "retired"


class PriorityLevel(StrEnum):
    """A task's declared priority; ``medium`` is accepted as an alias of ``normal``."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"
    BACKGROUND = "background"

    @classmethod
    def parse(cls, value: str) -> PriorityLevel:
        text = value.strip().lower()
        if text == "medium":
            return cls.NORMAL
        return cls(text)
