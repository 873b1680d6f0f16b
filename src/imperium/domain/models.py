"""The records the engine works with. Mutable ``Task`` and ``AgentState`` belong to the
scheduler; ``Execution`` and ``Event`` are immutable facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from imperium.domain.states import AgentStatus, Outcome, PriorityLevel, TaskState

JSON = Any
Resources = dict[str, float]


@dataclass(slots=True, eq=False)
class Task:
    """One unit of work. The scheduler owns and mutates it; storage keeps a snapshot."""

    id: str
    type: str
    created_at: float
    payload: JSON = None
    capabilities: frozenset[str] = frozenset()
    priority: PriorityLevel = PriorityLevel.NORMAL
    complexity: float = 1.0
    deadline: float | None = None
    timeout: float | None = None
    max_attempts: int = 3
    resources: Resources = field(default_factory=dict)
    pinned_agent: str | None = None
    depends_on: tuple[str, ...] = ()
    workflow_id: str | None = None
    name: str | None = None
    estimated_duration: float | None = None
    dependents: int = 0
    # mutable state
    state: TaskState = TaskState.QUEUED
    attempts: int = 0
    # attempts lost through no fault of an agent: the scheduler's own crash, or a lease
    # that expired while it was down (they do not count against max_attempts)
    restarts: int = 0
    lease_token: int = 0
    agent_id: str | None = None
    lease_expires_at: float | None = None
    not_before: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    result: JSON = None
    error_kind: str | None = None
    error_message: str | None = None
    score: float = 0.0
    updated_at: float = 0.0
    ready_at: float | None = None  # when it last became dispatchable (memory only)
    # when the lease runs out on the scheduler's monotonic clock (memory only; the stored
    # ``lease_expires_at`` is its wall-clock twin, for people and for a restart)
    lease_deadline: float | None = None

    @property
    def required_capabilities(self) -> frozenset[str]:
        """What an agent must offer; a task with none declared needs its own type."""
        return self.capabilities or frozenset({self.type})


@dataclass(slots=True)
class AgentSpec:
    """A registered agent as the user declared it."""

    id: str
    type: str
    capabilities: frozenset[str] = frozenset()
    priority: str = "medium"
    max_concurrency: int = 1
    resources: Resources = field(default_factory=dict)
    config: dict[str, JSON] = field(default_factory=dict)
    status: AgentStatus = AgentStatus.ACTIVE
    description: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(slots=True, eq=False)
class AgentState:
    """The scheduler's live view of an agent: its spec plus what it is running now."""

    spec: AgentSpec
    remote: bool = False
    running: int = 0
    resources_in_use: Resources = field(default_factory=dict)
    last_heartbeat: float | None = None
    online: bool = True

    @property
    def accepting(self) -> bool:
        return self.spec.status is AgentStatus.ACTIVE and self.online

    @property
    def free_slots(self) -> int:
        return self.spec.max_concurrency - self.running

    @property
    def load(self) -> float:
        return self.running / self.spec.max_concurrency


class Execution(NamedTuple):
    """One attempt of a task on an agent: a row of ``agent_task_executions``.

    A NamedTuple rather than a frozen dataclass: the engine makes one per attempt on its
    hot path, and tuples are several times cheaper to build.
    """

    task_id: str
    attempt: int
    agent_id: str | None
    task_type: str
    complexity: float
    started_at: float
    finished_at: float
    outcome: Outcome
    lease_token: int
    error_kind: str | None = None
    error_message: str | None = None
    resources: Resources = {}
    tokens: int | None = None
    cost: float | None = None

    @property
    def duration(self) -> float:
        return max(0.0, self.finished_at - self.started_at)


class Event(NamedTuple):
    """A state change or notable fact: a row of ``learning_logs``."""

    event_type: str
    created_at: float
    task_id: str | None = None
    agent_id: str | None = None
    data: dict[str, JSON] | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What an agent's attempt produced, as reported to the engine."""

    outcome: Outcome
    result: JSON = None
    error_kind: str | None = None
    error_message: str | None = None
    retryable: bool = True
    tokens: int | None = None
    cost: float | None = None
