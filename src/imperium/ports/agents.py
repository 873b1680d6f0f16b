"""The agent registry store and the per-agent figures read from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from imperium.domain.models import AgentSpec, Event


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


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """Whether the scheduler last managed to load a local agent's code, from its latest
    ``agent.loaded`` or ``agent.load_failed`` event (``error`` says why it did not)."""

    agent_id: str
    loaded: bool
    error: str | None
    at: float

    @classmethod
    def of(cls, agent_id: str, event_type: str, data: object, at: float) -> AgentLoad:
        """From an ``agent.loaded`` or ``agent.load_failed`` event."""
        if event_type != "agent.load_failed":
            return cls(agent_id, True, None, at)
        error = data.get("error") if isinstance(data, dict) else None
        return cls(agent_id, False, str(error or "its code failed to load"), at)


class AgentStore(Protocol):
    """Agent registry rows (``agent_metrics``)."""

    async def insert_agent(self, spec: AgentSpec) -> None:
        """Raises ConflictError when the id exists."""
        ...

    async def update_agent(self, spec: AgentSpec) -> None: ...

    async def get_agent(self, agent_id: str) -> AgentSpec | None: ...

    async def list_agents(self) -> list[AgentSpec]: ...

    async def log_event(self, event: Event) -> None: ...
