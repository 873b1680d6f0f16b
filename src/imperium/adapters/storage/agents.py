"""``SqlAgentStore``: the ``AgentStore`` port — the agent registry (``agent_metrics``) and
events logged outside the scheduler's group commit."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage import _rows
from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import agent_metrics, learning_logs
from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.models import AgentSpec, Event


def agents_query() -> sa.Select[tuple[object, ...]]:
    """Every agent row, by id."""
    return sa.select(agent_metrics).order_by(agent_metrics.c.agent_id)


class SqlAgentStore(SqlArea):
    async def insert_agent(self, spec: AgentSpec) -> None:
        try:
            async with self._db.transaction() as conn:
                await conn.execute(sa.insert(agent_metrics), [_rows.agent_row(spec)])
        except IntegrityError as exc:
            raise ConflictError(
                f"agent '{spec.id}' already exists; choose another id or update it"
            ) from exc

    async def update_agent(self, spec: AgentSpec) -> None:
        update = (
            sa.update(agent_metrics)
            .where(agent_metrics.c.agent_id == spec.id)
            .values(**_rows.agent_values(spec))
        )
        async with self._db.transaction() as conn:
            result = await conn.execute(update)
        if result.rowcount == 0:
            raise NotFoundError(f"agent '{spec.id}' does not exist; register it first")

    async def get_agent(self, agent_id: str) -> AgentSpec | None:
        query = sa.select(agent_metrics).where(agent_metrics.c.agent_id == agent_id)
        rows = await self._db.fetch(query)
        return _rows.agent_from_row(rows[0]) if rows else None

    async def list_agents(self) -> list[AgentSpec]:
        return [_rows.agent_from_row(row) for row in await self._db.fetch(agents_query())]

    async def log_event(self, event: Event) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(learning_logs), [_rows.event_row(event)])
