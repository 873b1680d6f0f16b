"""``SqlTaskStore``: the ``QueryStore`` port — reads of tasks, their attempts and events for
the CLI and API, and the writes other processes make (submitting, cancelling,
resubmitting) for the scheduler to pick up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imperium.adapters.storage import _rows
from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import (
    ACTIVE_STATE_SQL,
    AGENT_LOAD_EVENT_SQL,
    agent_task_executions,
    learning_logs,
)
from imperium.adapters.storage.tables import tasks as task_table
from imperium.domain.errors import ConflictError
from imperium.domain.models import Event, Execution, Task
from imperium.domain.states import Outcome, TaskState
from imperium.ports import AgentLoad, AgentStats, TaskFilter, TaskSnapshot

# Ids per ``IN (...)`` query: well under SQLite's and asyncpg's bound-parameter limits.
ID_CHUNK = 1000
# Outcomes that count against an agent; cancelled and interrupted attempts say nothing
# about the agent.
FAILED_OUTCOMES = (Outcome.FAILED.value, Outcome.TIMED_OUT.value, Outcome.LOST.value)
COUNTED_OUTCOMES = (Outcome.SUCCEEDED.value, *FAILED_OUTCOMES)
RESUBMITTABLE_STATES = ("dead", "timed_out", "failed")

active = sa.text(ACTIVE_STATE_SQL)
agent_load_events = sa.text(AGENT_LOAD_EVENT_SQL)


class TaskRows(SqlArea):
    """What the scheduler's store and the task store both answer about single tasks."""

    async def get_task(self, task_id: str) -> Task | None:
        rows = await self._db.fetch(sa.select(task_table).where(task_table.c.id == task_id))
        return _rows.task_from_row(rows[0]) if rows else None

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]:
        states: dict[str, TaskState] = {}
        for start in range(0, len(ids), ID_CHUNK):
            chunk = list(ids[start : start + ID_CHUNK])
            query = sa.select(task_table.c.id, task_table.c.state).where(task_table.c.id.in_(chunk))
            for row in await self._db.fetch(query):
                states[row.id] = TaskState(row.state)
        return states

    async def request_cancel(self, task_id: str, at: float) -> None:
        """Mark an active task for cancellation; the first request's time is kept."""
        when = sa.literal(at, task_table.c.cancel_requested_at.type)
        update = (
            sa.update(task_table)
            .where(task_table.c.id == task_id, active)
            .values(cancel_requested_at=sa.func.coalesce(task_table.c.cancel_requested_at, when))
        )
        async with self._db.transaction() as conn:
            await conn.execute(update)


class SqlTaskStore(TaskRows):
    async def cancel_requested(self, task_id: str) -> bool:
        query = sa.select(task_table.c.id).where(
            task_table.c.id == task_id, task_table.c.cancel_requested_at.is_not(None)
        )
        return bool(await self._db.fetch(query))

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
        query = query.where(*_time_and_id(flt))
        query = (
            query.order_by(task_table.c.created_at.desc(), task_table.c.id.desc())
            .limit(flt.limit)
            .offset(flt.offset)
        )
        return [_rows.task_from_row(row) for row in await self._db.fetch(query)]

    async def count_tasks_by_state(self) -> dict[TaskState, int]:
        query = sa.select(task_table.c.state, sa.func.count()).group_by(task_table.c.state)
        counts = dict.fromkeys(TaskState, 0)
        for state, count in await self._db.fetch(query):
            counts[TaskState(state)] = count
        return counts

    async def count_executions_by_outcome(self) -> dict[Outcome, int]:
        ex = agent_task_executions
        query = sa.select(ex.c.outcome, sa.func.count()).group_by(ex.c.outcome)
        counts = dict.fromkeys(Outcome, 0)
        for outcome, count in await self._db.fetch(query):
            counts[Outcome(outcome)] = count
        return counts

    async def executions_for(self, task_id: str) -> list[Execution]:
        query = (
            sa.select(agent_task_executions)
            .where(agent_task_executions.c.task_id == task_id)
            .order_by(agent_task_executions.c.attempt)
        )
        return [_rows.execution_from_row(row) for row in await self._db.fetch(query)]

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]:
        """The first ``limit`` events of the task, oldest first."""
        query = (
            sa.select(learning_logs)
            .where(learning_logs.c.task_id == task_id)
            .order_by(learning_logs.c.id)
            .limit(limit)
        )
        return [_rows.event_from_row(row) for row in await self._db.fetch(query)]

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
            for row in await self._db.fetch(query)
        }

    async def agent_loads(self) -> dict[str, AgentLoad]:
        latest = (
            sa.select(sa.func.max(learning_logs.c.id))
            .where(agent_load_events)
            .group_by(learning_logs.c.agent_id)
        )
        c = learning_logs.c
        query = sa.select(c.agent_id, c.event_type, c.event_data, c.created_at).where(
            c.id.in_(latest)
        )
        return {
            row.agent_id: AgentLoad.of(row.agent_id, row.event_type, row.event_data, row.created_at)
            for row in await self._db.fetch(query)
        }

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        rows = [_rows.task_row(task, TaskSnapshot.of(task)) for task in tasks]
        for row in rows:
            row["state"] = TaskState.SUBMITTED.value
        try:
            async with self._db.transaction() as conn:
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
        async with self._db.transaction() as conn:
            result = await conn.execute(update)
        return result.rowcount == 1


_HEX = "0123456789abcdef"


def _prefix(column: sa.ColumnElement[str], prefix: str) -> list[sa.ColumnElement[bool]]:
    """``column`` starts with ``prefix``. Ids are lower-case hex (``new_id``): a hex
    prefix is a range over the primary key up to the next hex string of its length, which
    sorts the same under every collation (digits before letters), unlike an open bound
    such as U+10FFFF that a linguistic collation may ignore. Anything else, which no
    generated id starts with, is compared exactly (not LIKE: SQLite's ignores case)."""
    if prefix.strip(_HEX):
        return [sa.func.substr(column, 1, len(prefix)) == prefix]
    stem = prefix.rstrip("f")
    if not stem:  # ff…f: everything from it on
        return [column >= prefix]
    upper = stem[:-1] + _HEX[_HEX.index(stem[-1]) + 1]
    return [column >= prefix, column < upper]


def _time_and_id(flt: TaskFilter) -> list[sa.ColumnElement[bool]]:
    """The time range, id prefix and keyset conditions of ``flt``: each one a range over
    an index (``ix_tasks_created_at``, the primary key)."""
    c = task_table.c
    conditions: list[sa.ColumnElement[bool]] = []
    if flt.created_after is not None:
        conditions.append(c.created_at >= flt.created_after)
    if flt.created_before is not None:
        conditions.append(c.created_at < flt.created_before)
    if flt.id_prefix:
        conditions += _prefix(c.id, flt.id_prefix)
    if flt.after is not None:
        created_at, task_id = flt.after
        conditions.append(
            sa.or_(c.created_at < created_at, sa.and_(c.created_at == created_at, c.id < task_id))
        )
    return conditions


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
