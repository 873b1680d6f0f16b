"""``SqlUsageStore``: the ``UsageStore`` port — tokens and cost of recorded attempts,
summed by the database per agent, task type or UTC day (``agent_task_executions`` over
its ``finished_at`` index), and the day's ``agent.budget_spent`` events."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import agent_task_executions, learning_logs
from imperium.domain.budgets import BUDGET_SPENT, DAY, utc_date
from imperium.domain.states import Outcome
from imperium.ports import TypeFigures, UsageRow

GROUPS = ("agent", "task_type", "day")


class SqlUsageStore(SqlArea):
    def _key(self, group: str, ex: sa.TableClause | sa.Subquery = agent_task_executions,
             ) -> sa.ColumnElement[object]:  # fmt: skip
        if group == "agent":
            return sa.func.coalesce(ex.c.agent_id, "")
        if group == "task_type":
            return ex.c.task_type
        ratio = ex.c.finished_at / DAY  # SQLite's CAST truncates (times > 0); PG's rounds
        floored = sa.func.floor(ratio) if self._db.dialect == "postgresql" else ratio
        return sa.cast(floored, sa.BigInteger)

    async def usage(self, group: str, since: float, until: float) -> list[UsageRow]:
        ex = agent_task_executions
        query = self._summed(group, ex).where(ex.c.finished_at >= since, ex.c.finished_at < until)
        return await self._rows(group, query)

    async def recent_usage(self, window: int) -> list[tuple[str, UsageRow]]:
        ex = agent_task_executions
        recent = (
            sa.select(ex.c.task_type, ex.c.finished_at, ex.c.tokens, ex.c.cost)
            .order_by(ex.c.finished_at.desc()).limit(window).subquery()
        )  # fmt: skip
        query = self._summed("day", recent).add_columns(recent.c.task_type)
        query = query.group_by(recent.c.task_type)
        return [(r.task_type, self._row("day", r)) for r in await self._db.fetch(query)]

    def _summed(self, group: str, ex: sa.TableClause | sa.Subquery) -> sa.Select[Any]:
        if group not in GROUPS:
            raise ValueError(f"group must be one of {GROUPS}")
        key = self._key(group, ex).label("key")
        return sa.select(
            key, sa.func.count().label("attempts"),
            sa.func.count(ex.c.tokens).label("reported"),
            sa.func.coalesce(sa.func.sum(ex.c.tokens), 0).label("tokens"),
            sa.func.coalesce(sa.func.sum(ex.c.cost), 0.0).label("cost"),
        ).group_by(key)  # fmt: skip

    async def _rows(self, group: str, query: sa.Select[Any]) -> list[UsageRow]:
        rows = [self._row(group, r) for r in await self._db.fetch(query)]
        return sorted(rows, key=lambda r: r.key)

    @staticmethod
    def _row(group: str, r: Any) -> UsageRow:
        return UsageRow(
            utc_date(r.key * DAY) if group == "day" else str(r.key),
            int(r.attempts), int(r.reported), int(r.tokens), float(r.cost),
        )  # fmt: skip

    async def spent_since(self, since: float) -> dict[str, tuple[int, float]]:
        ex = agent_task_executions
        query = (
            sa.select(
                ex.c.agent_id, sa.func.coalesce(sa.func.sum(ex.c.tokens), 0).label("tokens"),
                sa.func.coalesce(sa.func.sum(ex.c.cost), 0.0).label("cost"),
            )
            .where(ex.c.finished_at >= since, ex.c.agent_id.is_not(None),
                   sa.or_(ex.c.tokens.is_not(None), ex.c.cost.is_not(None)))
            .group_by(ex.c.agent_id)
        )  # fmt: skip
        return {r.agent_id: (int(r.tokens), float(r.cost)) for r in await self._db.fetch(query)}

    async def budget_events_since(self, since: float) -> set[str]:
        logs = learning_logs
        query = (
            sa.select(logs.c.agent_id)
            .where(logs.c.event_type == BUDGET_SPENT, logs.c.created_at >= since,
                   logs.c.agent_id.is_not(None))
            .distinct()
        )  # fmt: skip
        return {r.agent_id for r in await self._db.fetch(query)}

    async def type_figures(self, task_type: str, since: float, limit: int) -> TypeFigures:
        ex = agent_task_executions
        recent = (  # a hit from the result cache ran no agent: not an attempt here
            ex.c.task_type == task_type, ex.c.finished_at >= since,
            ex.c.outcome != Outcome.CACHED.value,
        )  # fmt: skip
        totals = sa.select(
            sa.func.count().label("attempts"),
            sa.func.coalesce(sa.func.sum(sa.case((ex.c.outcome == "succeeded", 1), else_=0)), 0)
            .label("succeeded"),
            sa.func.coalesce(sa.func.sum(ex.c.tokens), 0).label("tokens"),
            sa.func.coalesce(sa.func.sum(ex.c.cost), 0.0).label("cost"),
        ).where(*recent)  # fmt: skip
        durations = (
            sa.select(ex.c.duration_seconds).where(*recent)
            .order_by(ex.c.finished_at.desc()).limit(limit)
        )  # fmt: skip
        [row] = await self._db.fetch(totals)
        spans = [float(r[0]) for r in await self._db.fetch(durations)]
        return TypeFigures(int(row.attempts), int(row.succeeded), int(row.tokens),
                           float(row.cost), spans)  # fmt: skip
