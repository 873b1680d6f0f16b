"""``SqlLearningStore``: the ``LearningStore`` port — learning events in ``learning_logs``
(analytics and retention) and the learning columns of ``agent_metrics``."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import LEARNING_EVENT_SQL, agent_metrics, learning_logs
from imperium.ports import (
    LEARNING_FIELDS,
    AgentLearning,
    LearningAnalytics,
    LearningFilter,
    LearningLog,
    LearningTotals,
)

LEARNING_COLUMNS = [learning_logs.c[name] for name in LEARNING_FIELDS]
_learning_event = sa.text(LEARNING_EVENT_SQL)


class SqlLearningStore(SqlArea):
    async def log_learning(self, entry: LearningLog) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(learning_logs), [entry._asdict()])

    async def learning_analytics(self, flt: LearningFilter) -> LearningAnalytics:
        """Both queries read only learning events, through their partial index."""
        where = learning_where(flt)
        ll = learning_logs
        totals = (
            sa.select(
                ll.c.event_type,
                ll.c.agent_id,
                sa.func.count().label("events"),
                sa.func.coalesce(sa.func.sum(ll.c.impact_score), 0.0).label("total_impact"),
            )
            .where(*where)
            .group_by(ll.c.event_type, ll.c.agent_id)
        )
        logs = (
            sa.select(ll.c.event_type, ll.c.created_at, ll.c.agent_id, *LEARNING_COLUMNS)
            .where(*where)
            .order_by(ll.c.created_at.desc(), ll.c.id.desc())
            .limit(flt.limit)
        )
        async with self._db.reading() as conn:
            total_rows = (await conn.execute(totals)).all()
            log_rows = (await conn.execute(logs)).all()
        return LearningAnalytics(
            totals=[
                LearningTotals(r.event_type, r.agent_id, r.events, float(r.total_impact))
                for r in total_rows
            ],
            logs=[LearningLog(*row) for row in log_rows],
        )

    async def delete_events_before(self, before: float, chunk: int = 10_000) -> int:
        """Delete in chunks (short transactions: the scheduler keeps writing meanwhile)."""
        ll = learning_logs
        deleted = 0
        while True:
            ids = sa.select(ll.c.id).where(ll.c.created_at < before).limit(chunk)
            async with self._db.transaction() as conn:
                result = await conn.execute(sa.delete(ll).where(ll.c.id.in_(ids.scalar_subquery())))
            deleted += result.rowcount or 0
            if (result.rowcount or 0) < chunk:
                return deleted

    async def agent_learning(self, agent_id: str | None = None) -> dict[str, AgentLearning]:
        am = agent_metrics
        query = sa.select(
            am.c.agent_id,
            am.c.learning_score,
            am.c.total_learning_cycles,
            am.c.last_learning_cycle,
            am.c.learning_patterns,
            am.c.improvement_suggestions,
        )
        if agent_id is not None:
            query = query.where(am.c.agent_id == agent_id)
        return {row.agent_id: AgentLearning(*row) for row in await self._db.fetch(query)}


def learning_where(flt: LearningFilter) -> list[sa.ColumnElement[bool] | sa.TextClause]:
    """The partial index's predicate, written out literally so that the planners of SQLite
    and PostgreSQL match it, and the filter's conditions."""
    ll = learning_logs
    where: list[sa.ColumnElement[bool] | sa.TextClause] = [_learning_event]
    if flt.agent_id is not None:
        where.append(ll.c.agent_id == flt.agent_id)
    if flt.event_types:
        where.append(ll.c.event_type.in_(flt.event_types))
    if flt.since is not None:
        where.append(ll.c.created_at >= flt.since)
    if flt.until is not None:
        where.append(ll.c.created_at <= flt.until)
    return where
