"""``SqlCycleStore``: the ``CycleStore`` port — what learning cycles read and write:
executions to learn from, cycles, insights, model versions and agents' learning figures."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from imperium.adapters.storage import _rows
from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import (
    agent_metrics,
    agent_task_executions,
    learning_cycles,
    learning_insights,
    learning_models,
)
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
)
from imperium.domain.models import Execution

# Imported executions per statement (SQLAlchemy splits each into multi-row INSERTs within
# the drivers' bound-parameter limits; 18 columns a row).
IMPORT_CHUNK = 1000


class SqlCycleStore(SqlArea):
    async def recent_executions(self, limit: int) -> list[Execution]:
        ex = agent_task_executions
        newest = (
            sa.select(ex).order_by(ex.c.finished_at.desc(), ex.c.id.desc()).limit(limit).subquery()
        )
        query = sa.select(newest).order_by(newest.c.finished_at, newest.c.id)
        return [_rows.execution_from_row(row) for row in await self._db.fetch(query)]

    async def import_executions(self, executions: Sequence[Execution]) -> int:
        """One transaction; a row whose (task id, attempt) is stored already, or comes
        earlier in ``executions``, is skipped by the database (ON CONFLICT DO NOTHING), so
        a concurrent writer of the same attempt does not fail the import. The inserted ids
        come back through RETURNING and are counted."""
        ex = agent_task_executions
        insert = (
            self._db.insert(ex)
            .on_conflict_do_nothing(index_elements=[ex.c.task_id, ex.c.attempt])
            .returning(ex.c.id)
        )
        inserted = 0
        async with self._db.transaction() as conn:
            for start in range(0, len(executions), IMPORT_CHUNK):
                chunk = executions[start : start + IMPORT_CHUNK]
                rows = [_rows.execution_row(e) for e in chunk]
                inserted += len((await conn.execute(insert, rows)).all())
        return inserted

    async def save_cycle(self, cycle: LearningCycle) -> None:
        row = _rows.cycle_row(cycle)
        await self._upsert(learning_cycles, row, "cycle_id")

    async def list_cycles(self, limit: int) -> list[LearningCycle]:
        lc = learning_cycles
        query = sa.select(lc).order_by(lc.c.start_time.desc(), lc.c.cycle_id.desc()).limit(limit)
        return [_rows.cycle_from_row(row) for row in await self._db.fetch(query)]

    async def count_cycles(self, status: CycleStatus | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(learning_cycles)
        if status is not None:
            query = query.where(learning_cycles.c.status == status.value)
        return int(await self._db.scalar(query))

    async def save_insights(self, cycle_id: str, insights: Sequence[Insight]) -> None:
        if not insights:
            return
        rows = [_rows.insight_row(cycle_id, insight) for insight in insights]
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(learning_insights), rows)

    async def list_insights(
        self,
        limit: int,
        insight_type: InsightType | None = None,
        cycle_id: str | None = None,
    ) -> list[Insight]:
        li = learning_insights
        # a cycle saves its insights most confident first: keep that order within a cycle
        query = sa.select(li).order_by(li.c.created_at.desc(), li.c.id.asc()).limit(limit)
        if insight_type is not None:
            query = query.where(li.c.insight_type == insight_type.value)
        if cycle_id is not None:
            query = query.where(li.c.cycle_id == cycle_id)
        return [_rows.insight_from_row(row) for row in await self._db.fetch(query)]

    async def save_model(self, cycle_id: str | None, report: ModelReport) -> None:
        await self._upsert(learning_models, _rows.model_row(cycle_id, report), "version")

    async def list_models(self, limit: int) -> list[ModelReport]:
        lm = learning_models
        query = sa.select(lm).order_by(lm.c.trained_at.desc(), lm.c.version.desc()).limit(limit)
        return [_rows.model_from_row(row) for row in await self._db.fetch(query)]

    async def save_agent_figures(self, figures: Sequence[AgentFigures], cycle_time: float) -> int:
        """One UPDATE per agent (a handful per cycle), in one transaction; ``updated_at``
        is not touched, so the scheduler does not reload the agents."""
        am = agent_metrics
        updated = 0
        async with self._db.transaction() as conn:
            for figure in figures:
                update = (
                    sa.update(am)
                    .where(am.c.agent_id == figure.agent_id)
                    .values(
                        **_rows.figures_values(figure),
                        total_learning_cycles=am.c.total_learning_cycles + 1,
                        last_learning_cycle=float(cycle_time),
                    )
                )
                updated += (await conn.execute(update)).rowcount
        return updated

    async def _upsert(self, table: sa.Table, row: dict[str, object], key: str) -> None:
        async with self._db.transaction() as conn:
            await conn.execute(self._db.upsert(table, row, key))
