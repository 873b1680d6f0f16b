"""The agent registry: register, update, pause, resume, retire (history is kept).

Works with or without a running scheduler in this process: changes go to the database, and
an attached engine is told at once (a scheduler in another process picks them up when it
polls).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from imperium.domain.autoscale import policy_of
from imperium.domain.budgets import budget_of
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.models import AgentSpec, Event
from imperium.domain.states import AgentStatus
from imperium.ports import AgentLoad, AgentStats, AgentStore, Clock, EventSink, QueryStore

AGENT_PRIORITIES = ("high", "medium", "low")
MAX_CONCURRENCY_LIMIT = 100_000
_EDITABLE = {"capabilities", "priority", "max_concurrency", "resources", "config", "description"}


def validate_agent(spec: AgentSpec) -> None:
    if not spec.id or len(spec.id) > 100 or spec.id != spec.id.strip():
        raise ValidationError("agent id must be 1-100 characters without surrounding spaces")
    if not spec.type:
        raise ValidationError("agent type is empty; use 'echo', 'module:function' or 'remote'")
    if spec.priority not in AGENT_PRIORITIES:
        raise ValidationError(f"agent priority must be one of {', '.join(AGENT_PRIORITIES)}")
    if not 1 <= spec.max_concurrency <= MAX_CONCURRENCY_LIMIT:
        raise ValidationError(
            f"max_concurrency must be between 1 and {MAX_CONCURRENCY_LIMIT}, "
            f"got {spec.max_concurrency}"
        )
    for name, amount in spec.resources.items():
        if not math.isfinite(amount) or amount < 0:
            raise ValidationError(f"resource '{name}' must be a finite number >= 0")
    if not isinstance(spec.config, dict):
        raise ValidationError('agent config must be a JSON object, e.g. {"model": "small"}')
    if not isinstance(spec.resources, dict):
        raise ValidationError("agent resources must map names to amounts, e.g. cpu=4")
    if any(not c.strip() for c in spec.capabilities):
        raise ValidationError("capabilities must be non-empty strings")
    policy_of(spec.config, MAX_CONCURRENCY_LIMIT)  # a malformed autoscale config is refused
    budget_of(spec.config)  # and a malformed daily budget


class AgentService:
    def __init__(
        self,
        store: AgentStore,
        queries: QueryStore,
        clock: Clock,
        check_type: Callable[[AgentSpec], None],
        on_change: Callable[[AgentSpec], None] | None = None,
        events: EventSink | None = None,
    ) -> None:
        self._store = store
        self._queries = queries
        self._clock = clock
        self._check_type = check_type
        self.on_change = on_change
        self._events = events
        # A change reads the stored spec and writes it whole: two at once (a PATCH and the
        # autoscaler's resize) would each write over the other's, so they take turns.
        self._writing = asyncio.Lock()

    async def register(self, spec: AgentSpec) -> AgentSpec:
        """Store a new agent. Capabilities default to the agent's id."""
        if not spec.capabilities:
            spec = replace(spec, capabilities=frozenset({spec.id}))
        validate_agent(spec)
        self._check_type(spec)
        now = self._clock.now()
        spec = replace(spec, status=AgentStatus.ACTIVE, created_at=now, updated_at=now)
        await self._store.insert_agent(spec)
        await self._changed(spec, "agent.registered")
        return spec

    async def get(self, agent_id: str) -> AgentSpec:
        spec = await self._store.get_agent(agent_id)
        if spec is None:
            raise NotFoundError(f"no agent with id '{agent_id}'; list agents to see the ids")
        return spec

    async def list(self) -> list[AgentSpec]:
        return await self._store.list_agents()

    async def stats(self) -> dict[str, AgentStats]:
        return await self._queries.agent_stats()

    async def loads(self) -> dict[str, AgentLoad]:
        """Whether a scheduler last loaded each local agent's code, and why not."""
        return await self._queries.agent_loads()

    async def update(self, agent_id: str, changes: Mapping[str, Any]) -> AgentSpec:
        unknown = set(changes) - _EDITABLE
        if unknown:
            editable = ", ".join(sorted(_EDITABLE))
            raise ValidationError(
                f"cannot change {', '.join(sorted(unknown))}; editable: {editable}"
            )
        async with self._writing:
            spec = await self.get(agent_id)
            self._refuse_retired(spec)
            values = dict(changes)
            if "capabilities" in values:
                values["capabilities"] = frozenset(values["capabilities"])
            spec = replace(spec, **values, updated_at=self._clock.now())
            validate_agent(spec)
            if "config" in values:  # what the type checks of its config (e.g. llm's backend)
                self._check_type(spec)
            await self._store.update_agent(spec)
        await self._changed(spec, "agent.updated", {"changed": sorted(changes)})
        return spec

    async def set_status(self, agent_id: str, status: AgentStatus) -> AgentSpec:
        async with self._writing:
            spec = await self.get(agent_id)
            self._refuse_retired(spec)
            if spec.status is status:
                return spec
            spec = replace(spec, status=status, updated_at=self._clock.now())
            await self._store.update_agent(spec)
        verb = {AgentStatus.ACTIVE: "resumed", AgentStatus.PAUSED: "paused"}.get(status, "retired")
        await self._changed(spec, f"agent.{verb}")
        return spec

    async def ensure(self, spec: AgentSpec) -> AgentSpec:
        """Register ``spec`` unless an agent with its id exists (built-in agents at start)."""
        existing = await self._store.get_agent(spec.id)
        if existing is not None:
            return existing
        try:
            return await self.register(spec)
        except ConflictError:
            return await self.get(spec.id)

    @staticmethod
    def _refuse_retired(spec: AgentSpec) -> None:
        if spec.status is AgentStatus.RETIRED:
            raise ConflictError(
                f"agent '{spec.id}' is retired; its history is kept but it cannot change. "
                "Register a new agent instead"
            )

    async def _changed(
        self, spec: AgentSpec, kind: str, data: dict[str, Any] | None = None
    ) -> None:
        event = Event(kind, self._clock.now(), agent_id=spec.id, data=data)
        await self._store.log_event(event)
        if self._events is not None:
            self._events.publish([event])
        if self.on_change is not None:
            self.on_change(spec)
