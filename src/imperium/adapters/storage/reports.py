"""``SqlReportStore``: the report's figures over a period, aggregated by the database over
indexed time ranges (attempts by ``finished_at``, events by ``created_at``, ratings by
``created_at``, cycles by ``start_time``); the rows are never loaded one by one."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import (
    agent_task_executions,
    learning_cycles,
    learning_logs,
    task_feedback,
)
from imperium.domain.feedback import POSITIVE
from imperium.domain.reports import (
    DAY,
    DRIFT_EVENT,
    ENDED_STATES,
    AttemptCount,
    DriftRecord,
    PeriodFigures,
    RatingCount,
)

ENDED_EVENTS = tuple(f"task.{state}" for state in ENDED_STATES)


class SqlReportStore(SqlArea):
    async def period_figures(self, since: float, until: float) -> PeriodFigures:
        return PeriodFigures(
            since=since,
            until=until,
            attempts=tuple(await self._attempts(since, until)),
            tasks_ended=await self._tasks_ended(since, until),
            ratings=tuple(await self._ratings(since, until)),
            drift=tuple(await self._drift(since, until)),
            cycles=await self._cycles(since, until),
        )

    def _day(self) -> sa.ColumnElement[int]:
        """The UTC day an attempt finished on, rounded down (SQLite's CAST truncates and
        times are positive; PostgreSQL's CAST rounds, so floor first)."""
        ratio = agent_task_executions.c.finished_at / DAY
        floored = sa.func.floor(ratio) if self._db.dialect == "postgresql" else ratio
        return sa.cast(floored, sa.BigInteger)

    async def _attempts(self, since: float, until: float) -> list[AttemptCount]:
        ex = agent_task_executions
        day = self._day()
        query = (
            sa.select(
                day.label("day"), ex.c.task_type, ex.c.agent_id, ex.c.outcome,
                sa.func.count().label("n"),
                sa.func.sum(ex.c.tokens).label("tokens"), sa.func.count(ex.c.tokens).label("tr"),
                sa.func.sum(ex.c.cost).label("cost"), sa.func.count(ex.c.cost).label("cr"),
            )
            .where(ex.c.finished_at >= since, ex.c.finished_at < until)
            .group_by(day, ex.c.task_type, ex.c.agent_id, ex.c.outcome)
        )  # fmt: skip
        return [
            AttemptCount(int(r.day), r.task_type, r.agent_id, r.outcome, int(r.n),
                         int(r.tokens or 0), int(r.tr), float(r.cost or 0.0), int(r.cr))
            for r in await self._db.fetch(query)
        ]  # fmt: skip

    async def _tasks_ended(self, since: float, until: float) -> dict[str, int]:
        logs = learning_logs
        query = (
            sa.select(logs.c.event_type, sa.func.count().label("n"))
            .where(logs.c.created_at >= since, logs.c.created_at < until,
                   logs.c.event_type.in_(ENDED_EVENTS))
            .group_by(logs.c.event_type)
        )  # fmt: skip
        return {r.event_type.removeprefix("task."): int(r.n) for r in await self._db.fetch(query)}

    async def _ratings(self, since: float, until: float) -> list[RatingCount]:
        fb = task_feedback
        positive = sa.func.sum(sa.case((fb.c.score >= POSITIVE, 1), else_=0))
        query = (
            sa.select(fb.c.agent_id, fb.c.task_type, sa.func.count().label("n"),
                      positive.label("pos"), sa.func.sum(fb.c.score).label("total"))
            .where(fb.c.created_at >= since, fb.c.created_at < until)
            .group_by(fb.c.agent_id, fb.c.task_type)
        )  # fmt: skip
        return [
            RatingCount(r.agent_id, r.task_type, int(r.n), int(r.pos), float(r.total))
            for r in await self._db.fetch(query)
        ]

    async def _drift(self, since: float, until: float) -> list[DriftRecord]:
        logs = learning_logs
        query = (
            sa.select(logs.c.agent_id, logs.c.event_data, logs.c.created_at)
            .where(logs.c.created_at >= since, logs.c.created_at < until,
                   logs.c.event_type == DRIFT_EVENT)
            .order_by(logs.c.created_at)
        )  # fmt: skip
        return [
            drift_record(r.agent_id, r.event_data, r.created_at)
            for r in await self._db.fetch(query)
        ]

    async def _cycles(self, since: float, until: float) -> dict[str, int]:
        c = learning_cycles
        query = (
            sa.select(c.c.status, sa.func.count().label("n"))
            .where(c.c.start_time >= since, c.c.start_time < until)
            .group_by(c.c.status)
        )
        return {r.status: int(r.n) for r in await self._db.fetch(query)}


def drift_record(agent_id: str | None, data: object, at: float) -> DriftRecord:
    """A drift alarm from its ``agent.drift`` event's columns."""
    d = data if isinstance(data, dict) else {}

    def number(key: str) -> float | None:
        value = d.get(key)
        return float(value) if isinstance(value, int | float) else None

    direction = d.get("direction")
    return DriftRecord(
        agent_id=agent_id or str(d.get("agent_id", "")),
        task_type=str(d.get("task_type", "")),
        at=at,
        before_rate=number("before_rate"),
        recent_rate=number("recent_rate"),
        direction=direction if isinstance(direction, str) else None,
    )
