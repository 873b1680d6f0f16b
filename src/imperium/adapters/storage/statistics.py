"""``SqlStatisticsStore``: the ``StatisticsStore`` port — what the dashboard charts,
aggregated by the database over indexed time ranges (``agent_task_executions`` by
``finished_at``; dead tasks by their ``task.dead`` events, a partial index of their own)."""

from __future__ import annotations

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import (
    DEAD_TASK_EVENT_SQL,
    agent_task_executions,
    learning_logs,
)
from imperium.domain.states import Outcome
from imperium.ports import OutcomeCount

dead_task_events = sa.text(DEAD_TASK_EVENT_SQL)  # literal, so the partial index matches


class SqlStatisticsStore(SqlArea):
    async def outcome_series(self, since: float, bucket_seconds: float) -> list[OutcomeCount]:
        ex = agent_task_executions
        ratio = ex.c.finished_at / bucket_seconds
        # the bucket's number, rounded down: SQLite's CAST truncates (times are positive),
        # PostgreSQL's rounds; floor() is not in every SQLite build
        floored = sa.func.floor(ratio) if self._db.dialect == "postgresql" else ratio
        index = sa.cast(floored, sa.BigInteger)
        query = (
            sa.select(index.label("bucket"), ex.c.outcome, sa.func.count().label("n"))
            .where(ex.c.finished_at >= since)
            .group_by(index, ex.c.outcome)
        )
        return [
            OutcomeCount(row.bucket * bucket_seconds, Outcome(row.outcome), row.n)
            for row in await self._db.fetch(query)
        ]

    async def count_dead_since(self, since: float) -> int:
        logs = learning_logs
        query = sa.select(sa.func.count()).where(dead_task_events, logs.c.created_at >= since)
        rows = await self._db.fetch(query)
        return int(rows[0][0])
