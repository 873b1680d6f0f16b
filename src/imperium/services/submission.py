"""Submitting and cancelling from a process that does not run the scheduler (the CLI).

Tasks are stored in state ``submitted`` — durable when this returns — and the scheduler
admits them when it next polls; a cancel request is stored for the scheduler to apply.
A team's row is stored with its member tasks in one unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from imperium.domain.errors import ConflictError, NotFoundError
from imperium.domain.models import Event, Task
from imperium.domain.specs import (
    TaskSpec,
    WorkflowSpec,
    build_task,
    check_dependencies,
    check_pinned_agent,
    external_dependencies,
    plan_workflow,
    validate_task_spec,
)
from imperium.domain.teams import TeamRun
from imperium.ports import AgentStore, Clock, QueryStore, SchedulerStore, TeamStore, UnitOfWork


class _Stores(QueryStore, SchedulerStore, AgentStore, Protocol):
    """A store offering both reads and ``task_states``."""


@dataclass
class SubmissionService:
    store: _Stores
    clock: Clock
    new_id: Callable[[], str]
    teams: TeamStore | None = None
    unit_of_work: UnitOfWork | None = None
    """What commits a team's row and its member tasks together (both needed for teams)."""

    @property
    def agents(self) -> AgentStore:
        return self.store

    async def submit(self, specs: Sequence[TaskSpec]) -> list[Task]:
        for spec in specs:
            validate_task_spec(spec)
            await self._check_pinned(spec)
        deps = {d for s in specs for d in s.depends_on}
        known = await self.store.task_states(list(deps)) if deps else {}
        check_dependencies(deps, known)
        now = self.clock.now()
        tasks = [build_task(s, self.new_id(), now, s.depends_on) for s in specs]
        await self._store(tasks)
        return tasks

    async def submit_workflow(
        self, workflow: WorkflowSpec, team: TeamRun | None = None
    ) -> tuple[str, list[Task]]:
        """Store a workflow's tasks; with ``team``, its row too (``task_ids`` filled in),
        in the same unit of work."""
        for spec in workflow.tasks:
            await self._check_pinned(spec)
        external = external_dependencies(workflow)
        known = await self.store.task_states(list(external)) if external else {}
        plan = plan_workflow(workflow, known, self.new_id, self.clock.now())
        if team is None:
            await self._store(plan.tasks)
            return plan.workflow_id, plan.named
        if self.teams is None or self.unit_of_work is None:
            raise RuntimeError("SubmissionService needs a team store and a unit of work for teams")
        async with self.unit_of_work():
            await self._store(plan.tasks)
            await self.teams.insert_team(replace(team, task_ids=plan.named_ids))
        return plan.workflow_id, plan.named

    async def _check_pinned(self, spec: TaskSpec) -> None:
        if spec.pinned_agent is not None:
            agent = await self.agents.get_agent(spec.pinned_agent)
            check_pinned_agent(spec, None if agent is None else agent.status)

    async def _store(self, tasks: list[Task]) -> None:
        events = [Event("task.submitted", t.created_at, t.id, None, None) for t in tasks]
        await self.store.insert_submitted(tasks, events)

    async def cancel(self, task_id: str) -> Task:
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFoundError(f"no task with id {task_id}")
        if task.state.is_terminal:
            raise ConflictError(f"task {task_id} already ended {task.state}; nothing to cancel")
        await self.store.request_cancel(task_id, self.clock.now())
        return task
