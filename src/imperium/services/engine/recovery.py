"""Rebuilding the scheduler's state from the database, and picking up what other processes
(the CLI) wrote: submitted tasks, cancel requests, agent changes. Everything here changes
the scheduler through :class:`~imperium.services.engine.state.SchedulerState`'s
transitions."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from imperium.domain.budgets import day_start
from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.states import TaskState
from imperium.ports import Executor, SchedulerStore
from imperium.services.budgets import BudgetSource
from imperium.services.engine.journal import Journal
from imperium.services.engine.lock import SchedulerLock
from imperium.services.engine.state import SchedulerState

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What recovery needs of the engine that drives it (core.py's Engine)."""

    store: SchedulerStore
    executor: Executor
    lock: SchedulerLock
    journal: Journal
    state: SchedulerState
    poller: Poller
    budget_source: BudgetSource | None

    def cancel_now(self, task: Task) -> None: ...

    def apply_agent(self, spec: AgentSpec) -> None: ...


REMOTE_TYPE = "remote"
SUBMITTED_BATCH = 10_000


def apply_agent(engine: Engine, spec: AgentSpec) -> None:
    """Bring one agent in line with its stored spec. An implementation is (re)loaded when
    the type or config changed, or when it failed to load before; each load is an
    ``agent.loaded`` event, a failure marks the agent offline with an ``agent.load_failed``
    event instead and never raises."""
    state = engine.state
    current = state.agents.get(spec.id)
    remote = spec.type == REMOTE_TYPE
    reload = (
        current is None
        or current.spec.type != spec.type
        or current.spec.config != spec.config
        or (not current.remote and not current.online)
    )
    if current is not None and not reload:
        current.spec = spec
        if not remote:  # e.g. a new max_concurrency: a Ray actor pool takes its size
            engine.executor.update(spec)
        state.put_agent(current)
        return
    if current is not None and not current.remote:
        engine.executor.forget(spec.id)
    agent = AgentState(spec=spec, remote=remote, online=not remote)
    if current is not None:
        agent.running, agent.resources_in_use = current.running, current.resources_in_use
        agent.last_heartbeat = current.last_heartbeat
        agent.online = current.online if remote else True
    if not remote:
        try:
            engine.executor.prepare(spec)
        except BaseException as exc:  # an agent's import or constructor may raise anything
            if isinstance(exc, asyncio.CancelledError):
                raise
            agent.online = False
            log.error("agent %s cannot run: %s", spec.id, exc)
            state.event("agent.load_failed", data={"error": str(exc)}, agent_id=spec.id)
        else:  # so that readers of the database (``agents list``) know it loaded this time
            state.event("agent.loaded", agent_id=spec.id)
    state.put_agent(agent)


async def recover(engine: Engine) -> None:
    """Load agents and active tasks; re-queue attempts the previous scheduler left running."""
    state = engine.state
    executor = engine.executor
    state.placement.runtime_limit = lambda agent, task: (
        None if agent.remote else executor.unplaceable(agent.spec.id, task.resources)
    )
    if engine.budget_source is not None:  # today's spend, before agents' budgets apply
        now = state.clock.now()
        spent, announced = await engine.budget_source(day_start(now))
        state.budgets.load(now, spent, announced)
    for spec in await engine.store.load_agents():
        apply_agent(engine, spec)
    engine.poller.agents_seen = max((a.spec.updated_at for a in state.agents.values()), default=0.0)
    tasks = await engine.store.load_active_tasks()
    for task in tasks:
        state.tasks[task.id] = task
    requeued, exhausted = 0, []
    for task in tasks:
        if task.state is not TaskState.RUNNING or state.resume_lease(task):
            continue
        if state.lost_in_restart(task):
            requeued += 1
        else:
            exhausted.append(task)
    await _place(engine, [t for t in tasks if t.state is not TaskState.RUNNING])
    for task in exhausted:  # after _place, so their dependents are known and fail too
        state.end_dead(task)
    await engine.poller.poll()
    state.event(
        "scheduler.started",
        data={"owner": engine.lock.owner, "active_tasks": len(tasks), "requeued": requeued},
    )


async def _place(engine: Engine, tasks: list[Task]) -> None:
    """Re-admit loaded pending and queued tasks into the in-memory indexes."""
    active = engine.state.tasks
    outside = {d for t in tasks for d in t.depends_on if d not in active}
    known = await engine.store.task_states(list(outside)) if outside else {}
    for task in tasks:  # every loaded task is in memory, so order does not matter
        engine.state.admit(task, known, announce=False)


class Poller:
    """Admits submitted tasks, applies cancel requests and agent changes that other
    processes wrote, and marks remote agents offline that stopped calling."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.agents_seen = 0.0  # the newest agent change applied

    async def poll(self) -> None:
        engine, state = self._engine, self._engine.state
        await self._admit_submitted()
        for task_id in await engine.store.fetch_cancel_requests():
            task = state.tasks.get(task_id)
            if task is None:
                continue  # still submitted (not admitted yet): keep the request for later
            if not task.state.is_terminal:
                engine.cancel_now(task)
            engine.journal.cancel_handled(task_id)
        for spec in await engine.store.agents_changed_since(self.agents_seen - 1.0):
            self.agents_seen = max(self.agents_seen, spec.updated_at)
            current = state.agents.get(spec.id)
            # a row read before an in-process change committed must not undo that change
            if current is None or (
                current.spec != spec and spec.updated_at > current.spec.updated_at
            ):
                engine.apply_agent(spec)
        self._check_remote_agents()
        if engine.executor.capacity_changed():  # e.g. a Ray node joined: parked tasks may fit
            state.capacity_changed()
        for agent_id in engine.executor.reloadable():  # e.g. connected to Ray since
            agent = state.agents.get(agent_id)
            if agent is not None and not agent.remote and not agent.online:
                engine.apply_agent(agent.spec)

    async def _admit_submitted(self) -> None:
        engine, state = self._engine, self._engine.state
        tasks = [
            t
            for t in await engine.store.fetch_submitted(SUBMITTED_BATCH)
            if t.id not in state.tasks
        ]
        if not tasks:
            return
        batch = {t.id: t for t in tasks}
        outside = {
            d for t in tasks for d in t.depends_on if d not in state.tasks and d not in batch
        }
        known = await engine.store.task_states(list(outside)) if outside else {}
        progress = True
        while batch and progress:  # admit dependencies before their dependents
            progress = False
            for task in list(batch.values()):
                if any(d in batch or known.get(d) is TaskState.SUBMITTED for d in task.depends_on):
                    continue  # a dependency is not admitted yet: later in this loop or next poll
                del batch[task.id]
                state.admit(task, known)
                progress = True

    def _check_remote_agents(self) -> None:
        """Mark remote agents offline when they stop polling or heart-beating."""
        state = self._engine.state
        now = state.clock.now()
        for agent in state.agents.values():
            if not agent.remote or not agent.online or agent.last_heartbeat is None:
                continue
            if now - agent.last_heartbeat > 2 * state.lease_seconds:
                agent.online = False
                state.event(
                    "agent.offline",
                    data={"last_seen": agent.last_heartbeat},
                    agent_id=agent.spec.id,
                )
