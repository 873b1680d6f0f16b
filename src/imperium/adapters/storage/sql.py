"""``SqlStore``: the ``Store`` port on SQLAlchemy Core, for SQLite and PostgreSQL.

Each method owns its transaction. ``apply`` is the scheduler's group commit: the lock check
and every write of a batch in one transaction, with executemany for each part.

A write that would record something twice (a task id, a task's attempt in
``agent_task_executions``, a custody result, or a proposal identical to a live one) fails in
the database; it is raised as ``ConflictError`` and the transaction writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
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
    custody_results,
    custody_state,
    learning_cycles,
    learning_insights,
    learning_logs,
    learning_models,
    proposals,
    scheduler_lock,
)
from imperium.adapters.storage.tables import tasks as task_table
from imperium.domain.custody import CustodyRecord, CustodyResult
from imperium.domain.errors import ConflictError, LockLostError, NotFoundError
from imperium.domain.learning import (
    AgentFigures,
    CycleStatus,
    Insight,
    InsightType,
    LearningCycle,
    ModelReport,
)
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.domain.proposals import LIVE, Proposal, ProposalStatus
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
# Imported executions per statement (SQLAlchemy splits each into multi-row INSERTs within
# the drivers' bound-parameter limits; 18 columns a row).
IMPORT_CHUNK = 1000
# Outcomes that count against an agent; cancelled and interrupted attempts say nothing
# about the agent.
FAILED_OUTCOMES = (Outcome.FAILED.value, Outcome.TIMED_OUT.value, Outcome.LOST.value)
COUNTED_OUTCOMES = (Outcome.SUCCEEDED.value, *FAILED_OUTCOMES)
LOADED_STATES = ("pending", "queued", "running")
RESUBMITTABLE_STATES = ("dead", "timed_out", "failed")
LIVE_PROPOSAL_STATUSES = tuple(status.value for status in LIVE)

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

    async def delete_events_before(self, before: float, chunk: int = 10_000) -> int:
        """Delete in chunks (short transactions: the scheduler keeps writing meanwhile)."""
        ll = learning_logs
        deleted = 0
        while True:
            ids = sa.select(ll.c.id).where(ll.c.created_at < before).limit(chunk)
            async with self._engine.begin() as conn:
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
        return {row.agent_id: AgentLearning(*row) for row in await self._fetch(query)}

    # -- learning cycles -----------------------------------------------------------------

    async def recent_executions(self, limit: int) -> list[Execution]:
        ex = agent_task_executions
        newest = (
            sa.select(ex).order_by(ex.c.finished_at.desc(), ex.c.id.desc()).limit(limit).subquery()
        )
        query = sa.select(newest).order_by(newest.c.finished_at, newest.c.id)
        return [_rows.execution_from_row(row) for row in await self._fetch(query)]

    async def import_executions(self, executions: Sequence[Execution]) -> int:
        """One transaction; a row whose (task id, attempt) is stored already, or comes
        earlier in ``executions``, is skipped by the database (ON CONFLICT DO NOTHING), so
        a concurrent writer of the same attempt does not fail the import. The inserted ids
        come back through RETURNING and are counted."""
        ex = agent_task_executions
        insert = (
            self._dialect_insert(ex)
            .on_conflict_do_nothing(index_elements=[ex.c.task_id, ex.c.attempt])
            .returning(ex.c.id)
        )
        inserted = 0
        async with self._engine.begin() as conn:
            for start in range(0, len(executions), IMPORT_CHUNK):
                chunk = executions[start : start + IMPORT_CHUNK]
                rows = [_rows.execution_row(e) for e in chunk]
                inserted += len((await conn.execute(insert, rows)).all())
        return inserted

    async def save_cycle(self, cycle: LearningCycle) -> None:
        row = _rows.cycle_row(cycle)
        insert = self._dialect_insert(learning_cycles).values(row)
        upsert = insert.on_conflict_do_update(
            index_elements=[learning_cycles.c.cycle_id],
            set_={name: insert.excluded[name] for name in row if name != "cycle_id"},
        )
        async with self._engine.begin() as conn:
            await conn.execute(upsert)

    async def list_cycles(self, limit: int) -> list[LearningCycle]:
        lc = learning_cycles
        query = sa.select(lc).order_by(lc.c.start_time.desc(), lc.c.cycle_id.desc()).limit(limit)
        return [_rows.cycle_from_row(row) for row in await self._fetch(query)]

    async def count_cycles(self, status: CycleStatus | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(learning_cycles)
        if status is not None:
            query = query.where(learning_cycles.c.status == status.value)
        async with self._engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def save_insights(self, cycle_id: str, insights: Sequence[Insight]) -> None:
        if not insights:
            return
        rows = [_rows.insight_row(cycle_id, insight) for insight in insights]
        async with self._engine.begin() as conn:
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
        return [_rows.insight_from_row(row) for row in await self._fetch(query)]

    async def save_model(self, cycle_id: str | None, report: ModelReport) -> None:
        row = _rows.model_row(cycle_id, report)
        insert = self._dialect_insert(learning_models).values(row)
        upsert = insert.on_conflict_do_update(
            index_elements=[learning_models.c.version],
            set_={name: insert.excluded[name] for name in row if name != "version"},
        )
        async with self._engine.begin() as conn:
            await conn.execute(upsert)

    async def list_models(self, limit: int) -> list[ModelReport]:
        lm = learning_models
        query = sa.select(lm).order_by(lm.c.trained_at.desc(), lm.c.version.desc()).limit(limit)
        return [_rows.model_from_row(row) for row in await self._fetch(query)]

    async def save_agent_figures(self, figures: Sequence[AgentFigures], cycle_time: float) -> int:
        """One UPDATE per agent (a handful per cycle), in one transaction; ``updated_at``
        is not touched, so the scheduler does not reload the agents."""
        am = agent_metrics
        updated = 0
        async with self._engine.begin() as conn:
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

    # -- custody protocol ----------------------------------------------------------------

    async def get_custody(self, agent_id: str) -> CustodyRecord | None:
        query = sa.select(custody_state).where(custody_state.c.agent_id == agent_id)
        rows = await self._fetch(query)
        return _rows.custody_from_row(rows[0]) if rows else None

    async def list_custody(self) -> list[CustodyRecord]:
        query = sa.select(custody_state).order_by(custody_state.c.agent_id)
        return [_rows.custody_from_row(row) for row in await self._fetch(query)]

    async def save_custody_result(
        self, result: CustodyResult, record: CustodyRecord, expected_tests: int | None = None
    ) -> bool:
        """One transaction: the result's row, and the agent's standing replaced (upsert);
        the standing's ``updated_at`` is the result's time. With ``expected_tests``, only
        if the stored standing still counts that many tests (none stored counts 0);
        otherwise nothing is written and the answer is False."""
        state = _rows.custody_state_row(record, result.created_at)
        insert = self._dialect_insert(custody_state).values(state)
        upsert = insert.on_conflict_do_update(
            index_elements=[custody_state.c.agent_id],
            set_={name: insert.excluded[name] for name in state if name != "agent_id"},
        )
        cs = custody_state
        current = sa.select(cs.c.tests).where(cs.c.agent_id == record.agent_id)
        if self._engine.dialect.name == "postgresql":
            current = current.with_for_update()
        try:
            async with self._engine.begin() as conn:
                if expected_tests is not None:
                    stored = (await conn.execute(current)).scalar_one_or_none()
                    if (stored or 0) != expected_tests:
                        return False
                await conn.execute(sa.insert(custody_results), [_rows.custody_result_row(result)])
                await conn.execute(upsert)
            return True
        except IntegrityError as exc:
            raise ConflictError(
                f"custody result '{result.result_id}' is already recorded; nothing was written"
            ) from exc

    async def list_custody_results(
        self, agent_id: str | None = None, limit: int = 50
    ) -> list[CustodyResult]:
        cr = custody_results
        query = sa.select(cr).order_by(cr.c.created_at.desc(), cr.c.result_id.desc()).limit(limit)
        if agent_id is not None:
            query = query.where(cr.c.agent_id == agent_id)
        return [_rows.custody_result_from_row(row) for row in await self._fetch(query)]

    async def get_custody_result(self, result_id: str) -> CustodyResult | None:
        query = sa.select(custody_results).where(custody_results.c.result_id == result_id)
        rows = await self._fetch(query)
        return _rows.custody_result_from_row(rows[0]) if rows else None

    # -- proposals -----------------------------------------------------------------------

    async def insert_proposal(self, proposal: Proposal) -> None:
        """The partial unique index on live fingerprints refuses a duplicate, so two
        concurrent submissions of the same change cannot both land."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(sa.insert(proposals), [_rows.proposal_row(proposal)])
        except IntegrityError as exc:
            raise await self._proposal_conflict(
                proposal, f"a proposal with id '{proposal.proposal_id}' already exists"
            ) from exc

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        query = sa.select(proposals).where(proposals.c.proposal_id == proposal_id)
        rows = await self._fetch(query)
        return _rows.proposal_from_row(rows[0]) if rows else None

    async def list_proposals(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        p = proposals
        query = sa.select(p).order_by(p.c.created_at.desc(), p.c.proposal_id.desc()).limit(limit)
        if status is not None:
            query = query.where(p.c.status == status.value)
        if agent_id is not None:
            query = query.where(p.c.agent_id == agent_id)
        return [_rows.proposal_from_row(row) for row in await self._fetch(query)]

    async def update_proposal(self, proposal: Proposal, expected: ProposalStatus) -> bool:
        """A compare-and-set on the status: the row is written only if it still has
        ``expected``."""
        p = proposals
        update = (
            sa.update(p)
            .where(p.c.proposal_id == proposal.proposal_id, p.c.status == expected.value)
            .values(**_rows.proposal_values(proposal))
        )
        try:
            async with self._engine.begin() as conn:
                result = await conn.execute(update)
        except IntegrityError as exc:
            raise await self._proposal_conflict(
                proposal, "a proposal with the same title and change already exists"
            ) from exc
        return result.rowcount == 1

    async def _proposal_conflict(self, proposal: Proposal, otherwise: str) -> ConflictError:
        """The error for a proposal write the database refused: it names the live proposal
        with the same fingerprint when there is one (else says ``otherwise``)."""
        p = proposals
        query = (
            sa.select(p.c.proposal_id, p.c.status)
            .where(
                p.c.fingerprint == proposal.fingerprint,
                p.c.status.in_(LIVE_PROPOSAL_STATUSES),
                p.c.proposal_id != proposal.proposal_id,
            )
            .limit(1)
        )
        rows = await self._fetch(query)
        if rows:
            return ConflictError(
                "a proposal with the same title and change already exists: "
                f"{rows[0].proposal_id} ({rows[0].status})"
            )
        return ConflictError(otherwise)

    def _dialect_insert(self, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT with the dialect's ON CONFLICT clauses (SQLite and PostgreSQL share
        their syntax and SQLAlchemy API)."""
        if self._engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

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
