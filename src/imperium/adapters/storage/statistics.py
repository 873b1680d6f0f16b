"""``SqlStatisticsStore``: the ``StatisticsStore`` port — what the dashboard charts,
aggregated by the database over indexed time ranges (``agent_task_executions`` by
``finished_at``; dead tasks by their ``task.dead`` events, a partial index of their own;
recent workflows by ``ix_tasks_workflow_created_at``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import (
    DEAD_TASK_EVENT_SQL,
    WORKFLOW_SQL,
    agent_task_executions,
    learning_logs,
    tasks,
)
from imperium.domain.states import Outcome, TaskState
from imperium.ports import (
    WORKFLOW_SCAN,
    AgentWindow,
    DecisionCount,
    OutcomeCount,
    WorkflowSummary,
)

dead_task_events = sa.text(DEAD_TASK_EVENT_SQL)  # literal, so the partial index matches
in_workflow = sa.text(WORKFLOW_SQL)
FAILED = ("failed", "timed_out", "lost")
COUNTED = ("succeeded", *FAILED)


class SqlStatisticsStore(SqlArea):
    def _bucket(self, bucket_seconds: float) -> sa.ColumnElement[int]:
        """The number of the bucket an attempt finished in, rounded down: SQLite's CAST
        truncates (times are positive), PostgreSQL's rounds; floor() is not in every
        SQLite build."""
        ratio = agent_task_executions.c.finished_at / bucket_seconds
        floored = sa.func.floor(ratio) if self._db.dialect == "postgresql" else ratio
        return sa.cast(floored, sa.BigInteger)

    async def outcome_series(self, since: float, bucket_seconds: float) -> list[OutcomeCount]:
        ex = agent_task_executions
        index = self._bucket(bucket_seconds)
        query = (
            sa.select(index.label("bucket"), ex.c.outcome, sa.func.count().label("n"))
            .where(ex.c.finished_at >= since)
            .group_by(index, ex.c.outcome)
        )
        return [
            OutcomeCount(row.bucket * bucket_seconds, Outcome(row.outcome), row.n)
            for row in await self._db.fetch(query)
        ]

    async def decisions_series(
        self, task_type: str, since: float, bucket_seconds: float
    ) -> list[DecisionCount]:
        ex = agent_task_executions
        index = self._bucket(bucket_seconds)

        def counting(outcomes: tuple[str, ...]) -> sa.ColumnElement[int]:
            return sa.func.sum(sa.case((ex.c.outcome.in_(outcomes), 1), else_=0))

        query = (
            sa.select(index.label("bucket"), ex.c.agent_id, sa.func.count().label("n"),
                      counting(("succeeded",)).label("ok"), counting(FAILED).label("bad"))
            .where(ex.c.task_type == task_type, ex.c.finished_at >= since,
                   ex.c.agent_id.is_not(None))
            .group_by(index, ex.c.agent_id)
        )  # fmt: skip
        return [
            DecisionCount(row.bucket * bucket_seconds, row.agent_id, row.n, int(row.ok),
                          int(row.bad))
            for row in await self._db.fetch(query)
        ]  # fmt: skip

    async def count_dead_since(self, since: float) -> int:
        logs = learning_logs
        query = sa.select(sa.func.count()).where(dead_task_events, logs.c.created_at >= since)
        rows = await self._db.fetch(query)
        return int(rows[0][0])

    async def recent_workflows(self, limit: int) -> list[WorkflowSummary]:
        t = tasks
        newest = (
            sa.select(t.c.workflow_id, t.c.created_at)
            .where(in_workflow)
            .order_by(t.c.created_at.desc())
            .limit(WORKFLOW_SCAN)
            .subquery()
        )
        latest = sa.func.max(newest.c.created_at)
        chosen = (
            sa.select(newest.c.workflow_id)
            .group_by(newest.c.workflow_id)
            .order_by(latest.desc())
            .limit(limit)
        )
        ids = [row.workflow_id for row in await self._db.fetch(chosen)]
        if not ids:
            return []
        counts = (
            sa.select(t.c.workflow_id, t.c.state, sa.func.count().label("n"),
                      sa.func.min(t.c.created_at).label("first"))
            .where(t.c.workflow_id.in_(ids))
            .group_by(t.c.workflow_id, t.c.state)
        )  # fmt: skip
        states: dict[str, dict[TaskState, int]] = {i: {} for i in ids}
        first: dict[str, float] = {}
        for row in await self._db.fetch(counts):
            states[row.workflow_id][TaskState(row.state)] = row.n
            first[row.workflow_id] = min(row.first, first.get(row.workflow_id, row.first))
        return [WorkflowSummary(i, first[i], states[i]) for i in ids if i in first]

    async def agent_window(self, window: int) -> dict[str, AgentWindow]:
        ex = agent_task_executions
        recent = (
            sa.select(
                ex.c.agent_id,
                ex.c.task_type,
                ex.c.outcome,
                ex.c.duration_seconds,
                ex.c.tokens,
                ex.c.cost,
            )
            .order_by(ex.c.finished_at.desc())
            .limit(window)
            .subquery()
        )
        ranked = (
            sa.select(
                recent,
                sa.func.row_number()
                .over(partition_by=recent.c.agent_id, order_by=recent.c.duration_seconds)
                .label("rank"),
                sa.func.count().over(partition_by=recent.c.agent_id).label("n"),
            )
            .where(recent.c.agent_id.is_not(None), recent.c.outcome.in_(COUNTED))
            .subquery()
        )

        def nearest_rank(percent: int) -> sa.ColumnElement[float]:
            reached = ranked.c.rank * 100 >= ranked.c.n * percent
            return sa.func.min(sa.case((reached, ranked.c.duration_seconds)))

        query = sa.select(
            ranked.c.agent_id,
            sa.func.count().label("attempts"),
            sa.func.sum(sa.case((ranked.c.outcome == "succeeded", 1), else_=0)).label("ok"),
            nearest_rank(50).label("p50"),
            nearest_rank(95).label("p95"),
            sa.func.sum(ranked.c.tokens).label("tokens"),
            sa.func.sum(ranked.c.cost).label("cost"),
        ).group_by(ranked.c.agent_id)
        succeeded = sa.func.sum(sa.case((recent.c.outcome == "succeeded", 1), else_=0))
        per_type = (
            sa.select(recent.c.agent_id, recent.c.task_type, sa.func.count(), succeeded)
            .where(recent.c.agent_id.is_not(None), recent.c.outcome.in_(COUNTED))
            .group_by(recent.c.agent_id, recent.c.task_type)
        )
        by_type: dict[str, dict[str, tuple[int, int]]] = {}
        for agent_id, task_type, attempts, ok in await self._db.fetch(per_type):
            by_type.setdefault(agent_id, {})[task_type] = (int(attempts), int(ok))
        rows = await self._db.fetch(query)
        return {row.agent_id: _window(row, by_type.get(row.agent_id, {})) for row in rows}


def _window(row: sa.Row[Any], by_type: dict[str, tuple[int, int]]) -> AgentWindow:
    tokens = None if row.tokens is None else int(row.tokens)
    return AgentWindow(
        row.agent_id, row.attempts, int(row.ok), row.p50, row.p95, tokens, row.cost, by_type
    )
