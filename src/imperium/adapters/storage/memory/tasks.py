"""``MemoryTaskStore``: the ``QueryStore`` port in memory."""

from __future__ import annotations

from collections.abc import Sequence

from imperium.adapters.storage.memory._state import (
    copy_event,
    copy_execution,
    copy_task,
    duplicates,
)
from imperium.adapters.storage.memory.scheduler import TaskRows
from imperium.domain.errors import ConflictError
from imperium.domain.models import Event, Execution, Task
from imperium.domain.states import Outcome, TaskState
from imperium.ports import AgentLoad, AgentStats, TaskFilter, TaskSnapshot

AGENT_LOAD_EVENTS = frozenset({"agent.loaded", "agent.load_failed"})
_RESUBMITTABLE_STATES = frozenset({TaskState.DEAD, TaskState.TIMED_OUT, TaskState.FAILED})
_FAILED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.TIMED_OUT, Outcome.LOST})


def _in_range(task: Task, flt: TaskFilter) -> bool:
    """The time range, id prefix and keyset conditions of ``flt``."""
    return (
        (flt.created_after is None or task.created_at >= flt.created_after)
        and (flt.created_before is None or task.created_at < flt.created_before)
        and (not flt.id_prefix or task.id.startswith(flt.id_prefix))
        and (flt.after is None or (task.created_at, task.id) < flt.after)
    )


class MemoryTaskStore(TaskRows):
    async def cancel_requested(self, task_id: str) -> bool:
        return task_id in self.state.cancel_requested_at

    async def list_tasks(self, flt: TaskFilter) -> list[Task]:
        wanted = {"state": flt.state, "type": flt.type, "agent_id": flt.agent_id}
        wanted["workflow_id"] = flt.workflow_id
        matching = [
            t
            for t in self.state.tasks.values()
            if all(v is None or getattr(t, k) == v for k, v in wanted.items()) and _in_range(t, flt)
        ]
        matching.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        return [copy_task(t) for t in matching[flt.offset : flt.offset + flt.limit]]

    async def count_tasks_by_state(self) -> dict[TaskState, int]:
        counts = dict.fromkeys(TaskState, 0)
        for task in self.state.tasks.values():
            counts[task.state] += 1
        return counts

    async def count_executions_by_outcome(self) -> dict[Outcome, int]:
        counts = dict.fromkeys(Outcome, 0)
        for execution in self.state.executions.values():
            counts[execution.outcome] += 1
        return counts

    async def executions_for(self, task_id: str) -> list[Execution]:
        found = [e for (tid, _), e in self.state.executions.items() if tid == task_id]
        return [copy_execution(e) for e in sorted(found, key=lambda e: e.attempt)]

    async def events_for(self, task_id: str, limit: int = 200) -> list[Event]:
        """The first ``limit`` events of the task, oldest first."""
        return [copy_event(e) for e in self.state.events if e.task_id == task_id][:limit]

    async def agent_stats(self, agent_id: str | None = None) -> dict[str, AgentStats]:
        by_agent: dict[str, list[Execution]] = {}
        for e in self.state.executions.values():
            if agent_id is not None and e.agent_id != agent_id:
                continue
            if e.agent_id is not None and (e.outcome is Outcome.SUCCEEDED or _failed(e)):
                by_agent.setdefault(e.agent_id, []).append(e)
        return {agent_id: _stats(agent_id, runs) for agent_id, runs in by_agent.items()}

    async def agent_loads(self) -> dict[str, AgentLoad]:
        loads: dict[str, AgentLoad] = {}
        for e in self.state.events:  # oldest first: the latest wins
            if e.agent_id is not None and e.event_type in AGENT_LOAD_EVENTS:
                loads[e.agent_id] = AgentLoad.of(e.agent_id, e.event_type, e.data, e.created_at)
        return loads

    async def insert_submitted(self, tasks: Sequence[Task], events: Sequence[Event]) -> None:
        clash = duplicates([t.id for t in tasks], self.state.tasks)
        if clash:
            raise ConflictError(
                f"a task with one of these ids already exists ({clash[0]}); submit with new ids"
            )
        for task in tasks:
            snap = TaskSnapshot.of(task)._replace(state=TaskState.SUBMITTED)
            self.state.store_task(task, snap)
        self.state.events.extend(copy_event(e) for e in events)

    async def resubmit(self, task_id: str, max_attempts: int, at: float) -> bool:
        """Back to ``submitted`` with a new attempt budget, if dead, timed_out or failed;
        a cancel request left over from the last run is dropped."""
        task = self.state.tasks.get(task_id)
        if task is None or task.state not in _RESUBMITTABLE_STATES:
            return False
        task.state, task.max_attempts, task.updated_at = TaskState.SUBMITTED, max_attempts, at
        task.finished_at = task.not_before = None
        self.state.cancel_requested_at.pop(task_id, None)
        return True


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
