"""``MemoryAgentStore``: the ``AgentStore`` port in memory."""

from __future__ import annotations

import dataclasses

from imperium.adapters.storage.memory._state import (
    LearningColumns,
    MemoryArea,
    copy_agent,
    copy_event,
)
from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.models import AgentSpec, Event


class MemoryAgentStore(MemoryArea):
    async def insert_agent(self, spec: AgentSpec) -> None:
        if spec.id in self.state.agents:
            raise ConflictError(f"agent '{spec.id}' already exists; choose another id or update it")
        self.state.agents[spec.id] = copy_agent(spec)
        self.state.agent_learning[spec.id] = LearningColumns()

    async def update_agent(self, spec: AgentSpec) -> None:
        stored = self.state.agents.get(spec.id)
        if stored is None:
            raise NotFoundError(f"agent '{spec.id}' does not exist; register it first")
        replaced = dataclasses.replace(copy_agent(spec), created_at=stored.created_at)
        self.state.agents[spec.id] = replaced

    async def get_agent(self, agent_id: str) -> AgentSpec | None:
        stored = self.state.agents.get(agent_id)
        return copy_agent(stored) if stored is not None else None

    async def list_agents(self) -> list[AgentSpec]:
        agents = self.state.agents
        return [copy_agent(agents[key]) for key in sorted(agents)]

    async def log_event(self, event: Event) -> None:
        self.state.events.append(copy_event(event))
