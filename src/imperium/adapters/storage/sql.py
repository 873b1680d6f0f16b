"""``SqlStore``: the ``Store`` port on SQLAlchemy Core, for SQLite and PostgreSQL.

Each method owns its transaction. ``apply`` is the scheduler's group commit: the lock check
and every write of a batch in one transaction, with executemany for each part.

A write that would record something twice (a task id, or a task's attempt in
``agent_task_executions``) fails in the database; it is raised as ``ConflictError`` and the
transaction writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from imperium.adapters.storage import _rows
from imperium.adapters.storage._batch import BatchWriter
from imperium.adapters.storage.engine import create_engine
from imperium.adapters.storage.tables import (
    ACTIVE_STATE_SQL,
    CANCEL_REQUESTED_SQL,
    LEARNING_EVENT_SQL,
    SCHEDULER_LOCK_NAME,
    agent_metrics,
    agent_task_executions,
    learning_logs,
    scheduler_lock,
)
from imperium.adapters.storage.tables import tasks as task_table
from imperium.domain.errors import ConflictError, LockLostError, NotFoundError
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.states import Outcome, TaskState
from imperium.ports import (
    LEARNING_FIELDS,
    AgentLearning,
    AgentStats,
    LearningAnalytics,
    LearningFilter,
    LearningLog,
    LearningTotals,
    LockInfo,
    TaskFilter,
    TaskSnapshot,
    WriteBatch,
)

# Ids per ``IN (...)`` query: well under SQLite's and asyncpg's bound-parameter limits.
ID_CHUNK = 1000
# Outcomes that count against an agent; cancelled and interrupted attempts say nothing
# about the agent.
FAILED_OUTCOMES = (Outcome.FAILED.value, Outcome.TIMED_OUT.value, Outcome.LOST.value)
COUNTED_OUTCOMES = (Outcome.SUCCEEDED.value, *FAILED_OUTCOMES)
LOADED_STATES = ("pending", "queued", "running")
RESUBMITTABLE_STATES = ("dead", "timed_out", "failed")

_active = sa.text(ACTIVE_STATE_SQL)
_learning_event = sa.text(LEARNING_EVENT_SQL)
_clear_cancel = (
    sa.update(task_table)
    .where(task_table.c.id == sa.bindparam("b_id"))
    .values(cancel_requested_at=None)
)
_lock_row = scheduler_lock.c.name == SCHEDULER_LOCK_NAME


class SqlStore:
    """The ``Store`` port on one ``AsyncEngine``; build it with :meth:`connect`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = BatchWriter(engine.dialect)

    @classmethod
    async def connect(cls, url: str, *, sqlite_synchronous: str = "NORMAL") -> SqlStore:
        """Connect to ``url`` (checking that the database answers); see ``engine``."""
        engine = create_engine(url, sqlite_synchronous=sqlite_synchronous)
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def close(self) -> None:
        await self._engine.dispose()

    # -- scheduler: group commit -------------------------------------------------------

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        try:
            async with self._engine.begin() as conn:
                await _extend_lock(conn, owner, lock_expires_at)
                await self._writer.write(conn, batch)
                if batch.cancel_handled:
                    handled = [{"b_id": task_id} for task_id in batch.cancel_handled]
                    await conn.execute(_clear_cancel, handled)
        except IntegrityError as exc:
            raise ConflictError(
                "the batch records something already stored (a task id, or an execution "
                f"for a task attempt); nothing was written: {exc.orig}"
            ) from exc

    # -- scheduler: lock -----------------------------------------------------------------

    async def read_lock(self) -> LockInfo | None:
        query = sa.select(scheduler_lock.c.owner, scheduler_lock.c.expires_at).where(_lock_row)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else LockInfo(row.owner, row.expires_at)

    async def swap_lock(self, expected: str | None, owner: str, expires_at: float) -> bool:
        values = {"owner": owner, "expires_at": expires_at}
        if expected is None:
            insert = sa.insert(scheduler_lock).values(name=SCHEDULER_LOCK_NAME, **values)
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(insert)
            except IntegrityError:
                return False  # someone else created the row first
            return True
        swap = sa.update(scheduler_lock).where(_lock_row, scheduler_lock.c.owner == expected)
        async with self._engine.begin() as conn:
            result = await conn.execute(swap.values(**values))
        return result.rowcount == 1

    async def release_lock(self, owner: str) -> None:
        release = sa.delete(scheduler_lock).where(_lock_row, scheduler_lock.c.owner == owner)
        async with self._engine.begin() as conn:
            await conn.execute(release)

    # -- scheduler: reads ----------------------------------------------------------------

    async def load_agents(self) -> list[AgentSpec]:
        return await self.list_agents()

    async def agents_changed_since(self, since: float) -> list[AgentSpec]:
        query = (
            sa.select(agent_metrics)
            .where(agent_metrics.c.updated_at >= since)
            .order_by(agent_metrics.c.agent_id)
        )
        return [_rows.agent_from_row(row) for row in await self._fetch(query)]

    async def load_active_tasks(self) -> list[Task]:
        query = sa.select(task_table).where(_active, task_table.c.state.in_(LOADED_STATES))
        return [_rows.task_from_row(row) for row in await self._fetch(query)]

    async def fetch_submitted(self, limit: int) -> list[Task]:
        query = (
            sa.select(task_table)
            .where(_active, task_table.c.state == TaskState.SUBMITTED.value)
            .order_by(task_table.c.created_at, task_table.c.id)
            .limit(limit)
        )
        return [_rows.task_from_row(row) for row in await self._fetch(query)]

    async def fetch_cancel_requests(self) -> list[str]:
        query = sa.select(task_table.c.id).where(sa.text(CANCEL_REQUESTED_SQL), _active)
        return [row.id for row in await self._fetch(query)]

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]:
        states: dict[str, TaskState] = {}
        async with self._engine.connect() as conn:
            for start in range(0, len(ids), ID_CHUNK):
                chunk = list(ids[start : start + ID_CHUNK])
                query = sa.select(task_table.c.id, task_table.c.state).where(
                    task_table.c.id.in_(chunk)
                )
                for row in await conn.execute(query):
                    states[row.id] = TaskState(row.state)
        return states

    # -- agents --------------------------------------------------------------------------

    async def insert_agent(self, spec: AgentSpec) -> None:
        try:
            async with self._engine.begin() as conn:
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
        async with self._engine.begin() as conn:
            result = await conn.execute(update)
        if result.rowcount == 0:
            raise NotFoundError(f"agent '{spec.id}' does not exist; register it first")

    async def get_agent(self, agent_id: str) -> AgentSpec | None:
        query = sa.select(agent_metrics).where(agent_metrics.c.agent_id == agent_id)
        rows = await self._fetch(query)
        return _rows.agent_from_row(rows[0]) if rows else None

    async def list_agents(self) -> list[AgentSpec]:
        query = sa.select(agent_metrics).order_by(agent_metrics.c.agent_id)
        return [_rows.agent_from_row(row) for row in await self._fetch(query)]

    async def log_event(self, event: Event) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(learning_logs), [_rows.event_row(event)])

    # -- queries -------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task | None:
        rows = await self._fetch(sa.select(task_table).where(task_table.c.id == task_id))
        return _rows.task_from_row(rows[0]) if rows else None

    async def cancel_requested(self, task_id: str) -> bool:
        query = sa.select(task_table.c.id).where(
            task_table.c.id == task_id, task_table.c.cancel_requested_at.is_not(None)
        )
        return bool(await self._fetch(query))

    async def list_tasks(self, flt: TaskFilter) -> list[Task]:
        query = sa.select(task_table)
        for column, wanted in (
            (task_table.c.state, flt.state.value if flt.state is not None else None),
            (task_table.c.type, flt.type),
            (task_table.c.agent_id, flt.agent_id),
            (task_table.c.workflow_id, flt.workflow_id),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        query = (
            query.order_by(task_table.c.created_at.desc(), task_table.c.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        )
        return [_rows.task_from_row(row) for row in await self._fetch(query)]

    async def count_tasks_by_state(self) -> dict[TaskState, int]:
        query = sa.select(task_table.c.state, sa.func.count()).group_by(task_table.c.state)
        counts = dict.fromkeys(TaskState, 0)
        for state, count in await self._fetch(query):
            counts[TaskState(state)] = count
        return counts

    async def count_executions_by_outcome(self) -> dict[Outcome, int]:
        ex = agent_task_executions
        query = sa.select(ex.c.outcome, sa.func.count()).group_by(ex.c.outcome)
        counts = dict.fromkeys(Outcome, 0)
        for outcome, count in await self._fetch(query):
            counts[Outcome(outcome)] = count
        return counts

    async def executions_for(self, task_id: str) -> list[Execution]:
        query = (
            sa.select(agent_task_executions)
            .where(agent_task_executions.c.task_id == task_id)
            .order_by(agent_task_executions.c.attempt)
        )
        return [_rows.execution_from_row(row) for row in await self._fetch(query)]

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]:
        """The first ``limit`` events of the task, oldest first."""
        query = (
            sa.select(learning_logs)
            .where(learning_logs.c.task_id == task_id)
            .order_by(learning_logs.c.id)
            .limit(limit)
        )
        return [_rows.event_from_row(row) for row in await self._fetch(query)]

    async def agent_stats(self, agent_id: str | None = None) -> dict[str, AgentStats]:
        query = _agent_stats_query()
        if agent_id is not None:
            query = query.where(agent_task_executions.c.agent_id == agent_id)
        return {
            row.agent_id: AgentStats(
                agent_id=row.agent_id,
                executions=row.succeeded + row.failed,
                succeeded=row.succeeded,
                failed=row.failed,
                mean_duration=row.mean_duration,
                last_success=row.last_success,
                last_failure=row.last_failure,
            )
            for row in await self._fetch(query)
        }

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        rows = [_rows.task_row(task, TaskSnapshot.of(task)) for task in tasks]
        for row in rows:
            row["state"] = TaskState.SUBMITTED.value
        try:
            async with self._engine.begin() as conn:
                if rows:
                    await conn.execute(sa.insert(task_table), rows)
                if events:
                    await conn.execute(
                        sa.insert(learning_logs), [_rows.event_row(e) for e in events]
                    )
        except IntegrityError as exc:
            ids = ", ".join(row["id"] for row in rows[:5])
            raise ConflictError(
                f"a task with one of these ids already exists ({ids}); submit with new ids"
            ) from exc

    async def request_cancel(self, task_id: str, at: float) -> None:
        """Mark an active task for cancellation; the first request's time is kept."""
        when = sa.literal(at, task_table.c.cancel_requested_at.type)
        update = (
            sa.update(task_table)
            .where(task_table.c.id == task_id, _active)
            .values(cancel_requested_at=sa.func.coalesce(task_table.c.cancel_requested_at, when))
        )
        async with self._engine.begin() as conn:
            await conn.execute(update)

    async def resubmit(self, task_id: str, max_attempts: int, at: float) -> bool:
        """Back to ``submitted`` with a new attempt budget, if dead, timed_out or failed.

        A cancel request left over from the task's last run is dropped with it, so the
        scheduler does not cancel the task again on admission.
        """
        update = (
            sa.update(task_table)
            .where(task_table.c.id == task_id, task_table.c.state.in_(RESUBMITTABLE_STATES))
            .values(
                state=TaskState.SUBMITTED.value,
                max_attempts=max_attempts,
                finished_at=None,
                not_before=None,
                cancel_requested_at=None,
                updated_at=at,
            )
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(update)
        return result.rowcount == 1

    # -- learning ------------------------------------------------------------------------

    async def log_learning(self, entry: LearningLog) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(sa.insert(learning_logs), [entry._asdict()])

    async def learning_analytics(self, flt: LearningFilter) -> LearningAnalytics:
        """Both queries read only learning events, through their partial index."""
        where = _learning_where(flt)
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
        async with self._engine.connect() as conn:
            total_rows = (await conn.execute(totals)).all()
            log_rows = (await conn.execute(logs)).all()
        return LearningAnalytics(
            totals=[
                LearningTotals(r.event_type, r.agent_id, r.events, float(r.total_impact))
                for r in total_rows
            ],
            logs=[LearningLog(*row) for row in log_rows],
        )

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
        return {row.agent_id: AgentLearning(*row) for row in await self._fetch(query)}

    async def _fetch(self, query: sa.Executable) -> Sequence[Any]:
        async with self._engine.connect() as conn:
            return (await conn.execute(query)).all()


async def _extend_lock(conn: AsyncConnection, owner: str, expires_at: float) -> None:
    extend = (
        sa.update(scheduler_lock)
        .where(_lock_row, scheduler_lock.c.owner == owner)
        .values(expires_at=expires_at)
    )
    result = await conn.execute(extend)
    if result.rowcount != 1:
        raise LockLostError(
            f"scheduler '{owner}' no longer holds the database lock; it must stop writing"
        )


LEARNING_COLUMNS = [learning_logs.c[name] for name in LEARNING_FIELDS]


def _learning_where(flt: LearningFilter) -> list[sa.ColumnElement[bool] | sa.TextClause]:
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


def _agent_stats_query() -> sa.Select[Any]:
    ex = agent_task_executions
    succeeded = ex.c.outcome == Outcome.SUCCEEDED.value
    failed = ex.c.outcome.in_(FAILED_OUTCOMES)
    return (
        sa.select(
            ex.c.agent_id,
            sa.func.sum(sa.case((succeeded, 1), else_=0)).label("succeeded"),
            sa.func.sum(sa.case((failed, 1), else_=0)).label("failed"),
            sa.func.avg(ex.c.duration_seconds).label("mean_duration"),
            sa.func.max(sa.case((succeeded, ex.c.finished_at))).label("last_success"),
            sa.func.max(sa.case((failed, ex.c.finished_at))).label("last_failure"),
        )
        .where(ex.c.agent_id.is_not(None), ex.c.outcome.in_(COUNTED_OUTCOMES))
        .group_by(ex.c.agent_id)
    )
