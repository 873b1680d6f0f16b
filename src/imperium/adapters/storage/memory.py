"""``MemoryStore``: the ``Store`` port in dicts, for unit tests of the core.

It keeps the SQL store's semantics, including its failures: ``apply`` checks the lock and
every uniqueness rule before writing anything (``LockLostError``, ``ConflictError``), JSON
values go through a JSON round trip (so unserialisable payloads fail here too), and nothing
returned aliases what is stored (the scheduler mutates its ``Task`` objects).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Sequence
from typing import Any

import orjson

from imperium.domain.custody import CustodyRecord, CustodyResult
from imperium.domain.errors import ConflictError, LockLostError, NotFoundError
from imperium.domain.events import is_learning_event
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
from imperium.domain.states import ACTIVE_STATES, Outcome, TaskState
from imperium.ports import (
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

_LOADED_STATES = frozenset({TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING})
_RESUBMITTABLE_STATES = frozenset({TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED})
_FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST})
_SNAPSHOT_FIELDS = tuple(f for f in TaskSnapshot._fields if f != "id")


def _json(value: Any) -> Any:
    """A copy of ``value`` as it would come back from a JSON column."""
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))


@dataclasses.dataclass(slots=True)
class _LearningColumns:
    """The learning columns of an ``agent_metrics`` row, with the columns' defaults."""

    learning_score: float = 0.0
    success_rate: float = 0.0
    failure_rate: float = 0.0
    total_learning_cycles: int = 0
    last_learning_cycle: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    learning_patterns: list[Any] = dataclasses.field(default_factory=list)
    improvement_suggestions: list[Any] = dataclasses.field(default_factory=list)


class MemoryStore:
    """Everything in dicts; one instance is one database."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._cancel_requested_at: dict[str, float] = {}
        self._executions: dict[tuple[str, int], Execution] = {}
        self._events: list[Event] = []
        self._learning: list[LearningLog] = []
        self._agents: dict[str, AgentSpec] = {}
        self._agent_learning: dict[str, _LearningColumns] = {}
        self._cycles: dict[str, LearningCycle] = {}
        self._insights: list[tuple[str, Insight]] = []  # (cycle id, insight), as saved
        self._models: dict[str, ModelReport] = {}
        self._custody: dict[str, CustodyRecord] = {}
        self._custody_results: dict[str, CustodyResult] = {}
        self._proposals: dict[str, Proposal] = {}
        self._lock: LockInfo | None = None

    async def close(self) -> None:
        pass

    # -- scheduler -------------------------------------------------------------------------

    async def apply(self, batch: WriteBatch, owner: str, lock_expires_at: float) -> None:
        if self._lock is None or self._lock.owner != owner:
            raise LockLostError(
                f"scheduler '{owner}' no longer holds the database lock; it must stop writing"
            )
        self._check_new(
            [task.id for task, _ in batch.inserts],
            [(e.task_id, e.attempt) for e in batch.executions],
        )
        self._lock = LockInfo(owner, lock_expires_at)
        for task, snap in batch.inserts:
            self._store_task(task, snap)
        for snap in batch.updates:
            if snap.id in self._tasks:
                _set_snapshot(self._tasks[snap.id], snap)
        for execution in batch.executions:
            self._executions[(execution.task_id, execution.attempt)] = _copy_execution(execution)
        self._events.extend(_copy_event(e) for e in batch.events)
        for task_id in batch.cancel_handled:
            self._cancel_requested_at.pop(task_id, None)

    def _check_new(self, task_ids: Sequence[str], attempts: Sequence[tuple[str, int]]) -> None:
        """Refuse a batch that would record a task or an attempt twice, as the SQL store's
        unique constraints do."""
        clash = _duplicates(task_ids, self._tasks) or _duplicates(attempts, self._executions)
        if clash:
            raise ConflictError(
                "the batch records something already stored (a task id, or an execution "
                f"for a task attempt); nothing was written: {clash[0]!r}"
            )

    async def read_lock(self) -> LockInfo | None:
        return self._lock

    async def swap_lock(self, expected: str | None, owner: str, expires_at: float) -> bool:
        holder = self._lock.owner if self._lock is not None else None
        if holder != expected:
            return False
        self._lock = LockInfo(owner, expires_at)
        return True

    async def release_lock(self, owner: str) -> None:
        if self._lock is not None and self._lock.owner == owner:
            self._lock = None

    async def load_agents(self) -> list[AgentSpec]:
        return await self.list_agents()

    async def agents_changed_since(self, since: float) -> list[AgentSpec]:
        return [a for a in await self.list_agents() if a.updated_at >= since]

    async def load_active_tasks(self) -> list[Task]:
        return [_copy_task(t) for t in self._tasks.values() if t.state in _LOADED_STATES]

    async def fetch_submitted(self, limit: int) -> list[Task]:
        submitted = [t for t in self._tasks.values() if t.state is TaskState.SUBMITTED]
        submitted.sort(key=lambda t: (t.created_at, t.id))
        return [_copy_task(t) for t in submitted[:limit]]

    async def fetch_cancel_requests(self) -> list[str]:
        return [
            task_id
            for task_id in self._cancel_requested_at
            if self._tasks[task_id].state in ACTIVE_STATES
        ]

    async def task_states(self, ids: Sequence[str]) -> dict[str, TaskState]:
        return {i: self._tasks[i].state for i in ids if i in self._tasks}

    # -- agents ----------------------------------------------------------------------------

    async def insert_agent(self, spec: AgentSpec) -> None:
        if spec.id in self._agents:
            raise ConflictError(f"agent '{spec.id}' already exists; choose another id or update it")
        self._agents[spec.id] = _copy_agent(spec)
        self._agent_learning[spec.id] = _LearningColumns()

    async def update_agent(self, spec: AgentSpec) -> None:
        stored = self._agents.get(spec.id)
        if stored is None:
            raise NotFoundError(f"agent '{spec.id}' does not exist; register it first")
        self._agents[spec.id] = dataclasses.replace(_copy_agent(spec), created_at=stored.created_at)

    async def get_agent(self, agent_id: str) -> AgentSpec | None:
        stored = self._agents.get(agent_id)
        return _copy_agent(stored) if stored is not None else None

    async def list_agents(self) -> list[AgentSpec]:
        return [_copy_agent(self._agents[key]) for key in sorted(self._agents)]

    async def log_event(self, event: Event) -> None:
        self._events.append(_copy_event(event))

    # -- queries ---------------------------------------------------------------------------

    async def get_task(self, task_id: str) -> Task | None:
        stored = self._tasks.get(task_id)
        return _copy_task(stored) if stored is not None else None

    async def cancel_requested(self, task_id: str) -> bool:
        return task_id in self._cancel_requested_at

    async def list_tasks(self, flt: TaskFilter) -> list[Task]:
        wanted = {"state": flt.state, "type": flt.type, "agent_id": flt.agent_id}
        wanted["workflow_id"] = flt.workflow_id
        matching = [
            t
            for t in self._tasks.values()
            if all(v is None or getattr(t, k) == v for k, v in wanted.items())
        ]
        matching.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return [_copy_task(t) for t in matching[flt.offset : flt.offset + flt.limit]]

    async def count_tasks_by_state(self) -> dict[TaskState, int]:
        counts = dict.fromkeys(TaskState, 0)
        for task in self._tasks.values():
            counts[task.state] += 1
        return counts

    async def count_executions_by_outcome(self) -> dict[Outcome, int]:
        counts = dict.fromkeys(Outcome, 0)
        for execution in self._executions.values():
            counts[execution.outcome] += 1
        return counts

    async def executions_for(self, task_id: str) -> list[Execution]:
        found = [e for (tid, _), e in self._executions.items() if tid == task_id]
        return [_copy_execution(e) for e in sorted(found, key=lambda e: e.attempt)]

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]:
        """The first ``limit`` events of the task, oldest first."""
        return [_copy_event(e) for e in self._events if e.task_id == task_id][:limit]

    async def agent_stats(self, agent_id: str | None = None) -> dict[str, AgentStats]:
        by_agent: dict[str, list[Execution]] = {}
        for e in self._executions.values():
            if agent_id is not None and e.agent_id != agent_id:
                continue
            if e.agent_id is not None and (e.outcome is Outcome.SUCCEEDED or _failed(e)):
                by_agent.setdefault(e.agent_id, []).append(e)
        return {agent_id: _stats(agent_id, runs) for agent_id, runs in by_agent.items()}

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        clash = _duplicates([t.id for t in tasks], self._tasks)
        if clash:
            raise ConflictError(
                f"a task with one of these ids already exists ({clash[0]}); submit with new ids"
            )
        for task in tasks:
            snap = TaskSnapshot.of(task)._replace(state=TaskState.SUBMITTED)
            self._store_task(task, snap)
        self._events.extend(_copy_event(e) for e in events)

    async def request_cancel(self, task_id: str, at: float) -> None:
        """Mark an active task for cancellation; the first request's time is kept."""
        task = self._tasks.get(task_id)
        if task is not None and task.state in ACTIVE_STATES:
            self._cancel_requested_at.setdefault(task_id, at)

    async def resubmit(self, task_id: str, max_attempts: int, at: float) -> bool:
        """Back to ``submitted`` with a new attempt budget, if dead, timed_out or failed;
        a cancel request left over from the last run is dropped."""
        task = self._tasks.get(task_id)
        if task is None or task.state not in _RESUBMITTABLE_STATES:
            return False
        task.state, task.max_attempts, task.updated_at = TaskState.SUBMITTED, max_attempts, at
        task.finished_at = task.not_before = None
        self._cancel_requested_at.pop(task_id, None)
        return True

    # -- learning --------------------------------------------------------------------------

    async def log_learning(self, entry: LearningLog) -> None:
        self._learning.append(_copy_learning(entry))

    async def learning_analytics(self, flt: LearningFilter) -> LearningAnalytics:
        """As the SQL store: events logged with ``log_event`` count too, with no impact."""
        rows = [_as_learning(e) for e in self._events] + self._learning
        matching = [r for r in rows if _matches(r, flt)]
        totals: dict[tuple[str, str | None], LearningTotals] = {}
        for r in matching:
            key = (r.event_type, r.agent_id)
            seen = totals.get(key, LearningTotals(r.event_type, r.agent_id, 0, 0.0))
            totals[key] = LearningTotals(
                r.event_type, r.agent_id, seen.events + 1, seen.total_impact + r.impact_score
            )
        matching.reverse()  # ties in time: the later logged first, as the SQL store's ids
        matching.sort(key=lambda r: r.created_at, reverse=True)
        logs = [_copy_learning(r) for r in matching[: flt.limit]]
        return LearningAnalytics(list(totals.values()), logs)

    async def delete_events_before(self, before: float, chunk: int = 10_000) -> int:
        kept = [e for e in self._events if e.created_at >= before]
        learning = [e for e in self._learning if e.created_at >= before]
        deleted = len(self._events) - len(kept) + len(self._learning) - len(learning)
        self._events, self._learning = kept, learning
        return deleted

    async def agent_learning(self, agent_id: str | None = None) -> dict[str, AgentLearning]:
        return {
            key: _as_agent_learning(key, self._agent_learning[key])
            for key in sorted(self._agents)
            if agent_id is None or key == agent_id
        }

    # -- learning cycles -------------------------------------------------------------------

    async def recent_executions(self, limit: int) -> list[Execution]:
        """By finish time, then insertion order (the SQL store's id order)."""
        if limit <= 0:
            return []
        ordered = sorted(self._executions.values(), key=lambda e: e.finished_at)  # stable
        newest = ordered[-limit:]
        return [_copy_execution(e) for e in newest]

    async def import_executions(self, executions: Sequence[Execution]) -> int:
        """Attempts already stored, or earlier in ``executions``, are skipped."""
        inserted = 0
        for execution in executions:
            key = (execution.task_id, execution.attempt)
            if key not in self._executions:
                self._executions[key] = _copy_execution(execution)
                inserted += 1
        return inserted

    async def save_cycle(self, cycle: LearningCycle) -> None:
        self._cycles[cycle.cycle_id] = _copy_cycle(cycle)

    async def list_cycles(self, limit: int) -> list[LearningCycle]:
        ordered = sorted(
            self._cycles.values(), key=lambda c: (c.start_time, c.cycle_id), reverse=True
        )
        return [_copy_cycle(c) for c in ordered[: max(limit, 0)]]

    async def count_cycles(self, status: CycleStatus | None = None) -> int:
        return sum(1 for c in self._cycles.values() if status is None or c.status is status)

    async def save_insights(self, cycle_id: str, insights: Sequence[Insight]) -> None:
        self._insights.extend((cycle_id, _copy_insight(i)) for i in insights)

    async def list_insights(
        self,
        limit: int,
        insight_type: InsightType | None = None,
        cycle_id: str | None = None,
    ) -> list[Insight]:
        """Newest first; within one time, in the order saved (as the SQL store's ids)."""
        matching = [
            i
            for c, i in self._insights
            if (insight_type is None or i.insight_type is insight_type)
            and (cycle_id is None or c == cycle_id)
        ]
        matching.sort(key=lambda i: i.created_at, reverse=True)  # stable: saved order kept
        return [_copy_insight(i) for i in matching[: max(limit, 0)]]

    async def save_model(self, cycle_id: str | None, report: ModelReport) -> None:
        self._models[report.version] = report

    async def list_models(self, limit: int) -> list[ModelReport]:
        ordered = sorted(
            self._models.values(), key=lambda m: (m.trained_at, m.version), reverse=True
        )
        return ordered[: max(limit, 0)]

    async def save_agent_figures(self, figures: Sequence[AgentFigures], cycle_time: float) -> int:
        updated = 0
        for figure in figures:
            columns = self._agent_learning.get(figure.agent_id)
            if columns is None:
                continue  # no longer registered
            columns.learning_score = figure.learning_score
            columns.success_rate = figure.success_rate
            columns.failure_rate = figure.failure_rate
            columns.last_success = figure.last_success
            columns.last_failure = figure.last_failure
            columns.learning_patterns = _json(figure.learning_patterns)
            columns.improvement_suggestions = _json(figure.improvement_suggestions)
            columns.total_learning_cycles += 1
            columns.last_learning_cycle = cycle_time
            updated += 1
        return updated

    # -- custody protocol ------------------------------------------------------------------

    async def get_custody(self, agent_id: str) -> CustodyRecord | None:
        stored = self._custody.get(agent_id)
        return _copy_record(stored) if stored is not None else None

    async def list_custody(self) -> list[CustodyRecord]:
        return [_copy_record(self._custody[key]) for key in sorted(self._custody)]

    async def save_custody_result(
        self, result: CustodyResult, record: CustodyRecord, expected_tests: int | None = None
    ) -> bool:
        stored = self._custody.get(record.agent_id)
        if expected_tests is not None and (stored.tests if stored else 0) != expected_tests:
            return False
        if result.result_id in self._custody_results:
            raise ConflictError(
                f"custody result '{result.result_id}' is already recorded; nothing was written"
            )
        stored_result, stored_record = _copy_result(result), _copy_record(record)
        self._custody_results[result.result_id] = stored_result
        self._custody[record.agent_id] = stored_record
        return True

    async def list_custody_results(
        self, agent_id: str | None = None, limit: int = 50
    ) -> list[CustodyResult]:
        matching = [
            r for r in self._custody_results.values() if agent_id is None or r.agent_id == agent_id
        ]
        matching.sort(key=lambda r: (r.created_at, r.result_id), reverse=True)
        return [_copy_result(r) for r in matching[: max(limit, 0)]]

    async def get_custody_result(self, result_id: str) -> CustodyResult | None:
        stored = self._custody_results.get(result_id)
        return _copy_result(stored) if stored is not None else None

    # -- proposals -------------------------------------------------------------------------

    async def insert_proposal(self, proposal: Proposal) -> None:
        self._check_live_duplicate(proposal)
        if proposal.proposal_id in self._proposals:
            raise ConflictError(f"a proposal with id '{proposal.proposal_id}' already exists")
        self._proposals[proposal.proposal_id] = _copy_proposal(proposal)

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        stored = self._proposals.get(proposal_id)
        return _copy_proposal(stored) if stored is not None else None

    async def list_proposals(
        self,
        status: ProposalStatus | None = None,
        agent_id: str | None = None,
        limit: int = 100,
    ) -> list[Proposal]:
        matching = [
            p
            for p in self._proposals.values()
            if (status is None or p.status is status)
            and (agent_id is None or p.agent_id == agent_id)
        ]
        matching.sort(key=lambda p: (p.created_at, p.proposal_id), reverse=True)
        return [_copy_proposal(p) for p in matching[: max(limit, 0)]]

    async def update_proposal(self, proposal: Proposal, expected: ProposalStatus) -> bool:
        stored = self._proposals.get(proposal.proposal_id)
        if stored is None or stored.status is not expected:
            return False
        self._check_live_duplicate(proposal)
        self._proposals[proposal.proposal_id] = _copy_proposal(proposal)
        return True

    def _check_live_duplicate(self, proposal: Proposal) -> None:
        """The SQL store's partial unique index: one live proposal per fingerprint."""
        if proposal.status not in LIVE:
            return
        for other in self._proposals.values():
            if (
                other.proposal_id != proposal.proposal_id
                and other.status in LIVE
                and other.fingerprint == proposal.fingerprint
            ):
                raise ConflictError(
                    "a proposal with the same title and change already exists: "
                    f"{other.proposal_id} ({other.status})"
                )

    def _store_task(self, task: Task, snap: TaskSnapshot) -> None:
        stored = _copy_task(task)
        _set_snapshot(stored, snap)
        self._tasks[task.id] = stored


def _duplicates(keys: Sequence[Any], stored: Container[Any]) -> list[Any]:
    """Keys already in ``stored`` or repeated within ``keys``."""
    seen: set[Any] = set()
    clashes = []
    for key in keys:
        if key in stored or key in seen:
            clashes.append(key)
        seen.add(key)
    return clashes


def _set_snapshot(task: Task, snap: TaskSnapshot) -> None:
    for name in _SNAPSHOT_FIELDS:
        setattr(task, name, getattr(snap, name))
    task.result = _json(snap.result)


def _copy_task(task: Task) -> Task:
    return dataclasses.replace(
        task,
        payload=_json(task.payload),
        resources=_json(task.resources),
        result=_json(task.result),
    )


def _copy_execution(execution: Execution) -> Execution:
    return execution._replace(resources=_json(execution.resources))


def _copy_event(event: Event) -> Event:
    return event._replace(data=_json(event.data))


def _copy_learning(entry: LearningLog) -> LearningLog:
    return entry._replace(
        results_sample=_json(entry.results_sample),
        insights=_json(entry.insights),
        event_data=_json(entry.event_data),
    )


def _as_learning(event: Event) -> LearningLog:
    return LearningLog(event.event_type, event.created_at, event.agent_id, event_data=event.data)


def _matches(row: LearningLog, flt: LearningFilter) -> bool:
    return (
        is_learning_event(row.event_type)
        and (flt.agent_id is None or row.agent_id == flt.agent_id)
        and (not flt.event_types or row.event_type in flt.event_types)
        and (flt.since is None or row.created_at >= flt.since)
        and (flt.until is None or row.created_at <= flt.until)
    )


def _copy_cycle(cycle: LearningCycle) -> LearningCycle:
    return dataclasses.replace(
        cycle,
        participating_agents=tuple(cycle.participating_agents),
        metadata=_json(cycle.metadata),
    )


def _copy_insight(insight: Insight) -> Insight:
    return dataclasses.replace(insight, agents=tuple(insight.agents), data=_json(insight.data))


def _copy_result(result: CustodyResult) -> CustodyResult:
    return dataclasses.replace(
        result, answer=_json(result.answer), grader_output=_json(result.grader_output)
    )


def _copy_record(record: CustodyRecord) -> CustodyRecord:
    return dataclasses.replace(record, recent=tuple(bool(r) for r in record.recent))


def _copy_proposal(proposal: Proposal) -> Proposal:
    return dataclasses.replace(
        proposal, action=_json(proposal.action), evidence=_json(list(proposal.evidence))
    )


def _as_agent_learning(agent_id: str, columns: _LearningColumns) -> AgentLearning:
    return AgentLearning(
        agent_id,
        columns.learning_score,
        columns.total_learning_cycles,
        columns.last_learning_cycle,
        _json(columns.learning_patterns),
        _json(columns.improvement_suggestions),
    )


def _copy_agent(spec: AgentSpec) -> AgentSpec:
    return dataclasses.replace(spec, resources=_json(spec.resources), config=_json(spec.config))


def _failed(execution: Execution) -> bool:
    return execution.outcome in _FAILED_OUTCOMES


def _stats(agent_id: str, runs: list[Execution]) -> AgentStats:
    succeeded = [e for e in runs if e.outcome is Outcome.SUCCEEDED]
    failed = [e for e in runs if _failed(e)]
    return AgentStats(
        agent_id=agent_id,
        executions=len(runs),
        succeeded=len(succeeded),
        failed=len(failed),
        mean_duration=sum(e.duration for e in runs) / len(runs),
        last_success=max((e.finished_at for e in succeeded), default=None),
        last_failure=max((e.finished_at for e in failed), default=None),
    )
