"""``SqlSchedulerStore``: the narrow ``SchedulerStore`` port the engine depends on — its
group commit (``apply``), the scheduler lock, and what it reads at start and when polling.

``apply`` writes the lock renewal and every part of a batch in one transaction, with
executemany for each part (``_batch``: on SQLite in one call on the driver's thread); team
rows planned with their member tasks
(``WriteBatch.teams``) commit in the same transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage import _rows
from imperium.adapters.storage._batch import BatchWriter
from imperium.adapters.storage.agents import agents_query
from imperium.adapters.storage.database import Database
from imperium.adapters.storage.tables import (
    CANCEL_REQUESTED_SQL,
    SCHEDULER_LOCK_NAME,
    SUBMITTED_SQL,
    UNFINISHED_SQL,
    agent_metrics,
    scheduler_lock,
    team_runs,
)
from imperium.adapters.storage.tables import tasks as task_table
from imperium.adapters.storage.tasks import TaskRows, active
from imperium.adapters.storage.teams import team_row
from imperium.domain.errors import ConflictError
from imperium.domain.models import AgentSpec, Task
from imperium.ports import LockInfo, WriteBatch

LOADED_STATES = ("pending", "queued", "running")

_clear_cancel = (
    sa.update(task_table)
    .where(task_table.c.id == sa.bindparam("b_id"))
    .values(cancel_requested_at=None)
)
_lock_row = scheduler_lock.c.name == SCHEDULER_LOCK_NAME
# literal, to match the partial indexes' predicates (tables/core.py)
_unfinished = sa.text(UNFINISHED_SQL)
_submitted = sa.text(SUBMITTED_SQL)


class SqlSchedulerStore(TaskRows):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._writer = BatchWriter(db.engine.dialect)

    # -- group commit --------------------------------------------------------------------

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        try:
            async with self._db.transaction() as conn:
                await self._writer.write_locked(conn, batch, owner, lock_expires_at)
                if batch.teams:
                    await conn.execute(sa.insert(team_runs), [team_row(t) for t in batch.teams])
                if batch.cancel_handled:
                    handled = [{"b_id": task_id} for task_id in batch.cancel_handled]
                    await conn.execute(_clear_cancel, handled)
        except IntegrityError as exc:
            raise ConflictError(
                "the batch records something already stored (a task id, an execution "
                f"for a task attempt, or a team id); nothing was written: {exc.orig}"
            ) from exc

    # -- lock ----------------------------------------------------------------------------

    async def read_lock(self) -> LockInfo | None:
        query = sa.select(scheduler_lock.c.owner, scheduler_lock.c.expires_at).where(_lock_row)
        rows = await self._db.fetch(query)
        return LockInfo(rows[0].owner, rows[0].expires_at) if rows else None

    async def swap_lock(self, expected: str | None, owner: str, expires_at: float) -> bool:
        values = {"owner": owner, "expires_at": expires_at}
        if expected is None:
            insert = sa.insert(scheduler_lock).values(name=SCHEDULER_LOCK_NAME, **values)
            try:
                async with self._db.transaction() as conn:
                    await conn.execute(insert)
            except IntegrityError:
                return False  # someone else created the row first
            return True
        swap = sa.update(scheduler_lock).where(_lock_row, scheduler_lock.c.owner == expected)
        async with self._db.transaction() as conn:
            result = await conn.execute(swap.values(**values))
        return result.rowcount == 1

    async def release_lock(self, owner: str) -> None:
        release = sa.delete(scheduler_lock).where(_lock_row, scheduler_lock.c.owner == owner)
        async with self._db.transaction() as conn:
            await conn.execute(release)

    # -- reads ---------------------------------------------------------------------------

    async def load_agents(self) -> list[AgentSpec]:
        return [_rows.agent_from_row(row) for row in await self._db.fetch(agents_query())]

    async def agents_changed_since(self, since: float) -> list[AgentSpec]:
        query = agents_query().where(agent_metrics.c.updated_at >= since)
        return [_rows.agent_from_row(row) for row in await self._db.fetch(query)]

    async def load_active_tasks(self) -> list[Task]:
        query = sa.select(task_table).where(_unfinished, task_table.c.state.in_(LOADED_STATES))
        return [_rows.task_from_row(row) for row in await self._db.fetch(query)]

    async def fetch_submitted(self, limit: int) -> list[Task]:
        query = (
            sa.select(task_table)
            .where(_submitted)
            .order_by(task_table.c.created_at, task_table.c.id)
            .limit(limit)
        )
        return [_rows.task_from_row(row) for row in await self._db.fetch(query)]

    async def fetch_cancel_requests(self) -> list[str]:
        query = sa.select(task_table.c.id).where(sa.text(CANCEL_REQUESTED_SQL), active)
        return [row.id for row in await self._db.fetch(query)]
