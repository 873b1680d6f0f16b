"""Rebuilding the scheduler's state from the database, and picking up what other processes
(the CLI) wrote: submitted tasks, cancel requests, agent changes."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from imperium.domain.learning import SCHEDULER_RESTART
from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.states import Outcome, TaskState

if TYPE_CHECKING:
    from imperium.services.engine.core import Engine

log = logging.getLogger(__name__)

REMOTE_TYPE = "remote"
SUBMITTED_BATCH = 10_000


def apply_agent(engine: Engine, spec: AgentSpec) -> None:
    """Bring one agent in line with its stored spec. An implementation is (re)loaded when
    the type or config changed, or when it failed to load before; a failure marks the
    agent offline with an ``agent.load_failed`` event and never raises."""
    current = engine.agents.get(spec.id)
    remote = spec.type == REMOTE_TYPE
    reload = (
        current is None
        or current.spec.type != spec.type
        or current.spec.config != spec.config
        or (not current.remote and not current.online)
    )
    if current is not None and not reload:
        current.spec = spec
        return
    if current is not None and not current.remote:
        engine.executor.forget(spec.id)
    state = AgentState(spec=spec, remote=remote, online=not remote)
    if current is not None:
        state.running, state.resources_in_use = current.running, current.resources_in_use
        state.last_heartbeat = current.last_heartbeat
        state.online = current.online if remote else True
    if not remote:
        try:
            engine.executor.prepare(spec)
        except BaseException as exc:  # an agent's import or constructor may raise anything
            if isinstance(exc, asyncio.CancelledError):
                raise
            state.online = False
            log.error("agent %s cannot run: %s", spec.id, exc)
            engine._event("agent.load_failed", data={"error": str(exc)}, agent_id=spec.id)
    engine.agents[spec.id] = state


async def recover(engine: Engine) -> None:
    """Load agents and active tasks; re-queue attempts the previous scheduler left running."""
    for spec in await engine.store.load_agents():
        apply_agent(engine, spec)
    engine._agents_seen = max((a.spec.updated_at for a in engine.agents.values()), default=0.0)
    tasks = await engine.store.load_active_tasks()
    for task in tasks:
        engine.tasks[task.id] = task
    now = engine.clock.now()
    requeued, exhausted = 0, []
    for task in tasks:
        if task.state is not TaskState.RUNNING or _resume_lease(engine, task, now):
            continue
        # Not the agent's fault: the attempt is not charged, but counted apart with its own
        # limit, so a task that crashes the scheduler every time does not loop forever.
        task.restarts += 1
        limit = engine.config.max_restarts
        message = "the scheduler stopped while this attempt ran"
        engine._record(task, Outcome.LOST, now, SCHEDULER_RESTART, message)
        task.lease_expires_at = None
        if task.restarts <= limit:
            task.error_kind, task.error_message = SCHEDULER_RESTART, message
            engine._set_state(task, TaskState.QUEUED, now)
            engine._event("task.requeued", task, {"attempt": task.attempts})
            requeued += 1
        else:
            task.error_kind = SCHEDULER_RESTART
            task.error_message = (
                f"{message}, the {task.restarts}th time (limit IMPERIUM_MAX_RESTARTS="
                f"{limit}); it may be what crashes the scheduler"
            )
            exhausted.append(task)
    await _place(engine, [t for t in tasks if t.state is not TaskState.RUNNING])
    for task in exhausted:  # after _place, so their dependents are known and fail too
        engine._terminal(task, TaskState.DEAD, now)
    await poll_external(engine)
    engine._event(
        "scheduler.started",
        data={"owner": engine.lock.owner, "active_tasks": len(tasks), "requeued": requeued},
    )


def _resume_lease(engine: Engine, task: Task, now: float) -> bool:
    """A remote agent's lease survives a scheduler restart. Its worker could not heartbeat
    or report while the scheduler was down, so the lease gets a whole period from now
    (at least): one that ran out during the outage is not the worker's fault."""
    agent = engine.agents.get(task.agent_id or "")
    if agent is None or not agent.remote:
        return False
    from imperium.services.engine.timers import TimerKind

    agent.running += 1
    for name, amount in task.resources.items():
        agent.resources_in_use[name] = agent.resources_in_use.get(name, 0.0) + amount
    lease = engine.config.lease_seconds
    left = max(lease, (task.lease_expires_at or 0.0) - now)
    task.lease_expires_at, task.lease_deadline = now + left, engine.due_in(left)
    engine.journal.update(task)
    engine.timers.add(task.lease_deadline, TimerKind.LEASE, task.id, task.lease_token)
    if task.timeout is not None:
        started = task.started_at if task.started_at is not None else now
        due = engine.due_in(started + task.timeout - now)
        engine.timers.add(due, TimerKind.TIMEOUT, task.id, task.lease_token)
    return True


async def _place(engine: Engine, tasks: list[Task]) -> None:
    """Re-admit loaded pending and queued tasks into the in-memory indexes."""
    outside = {d for t in tasks for d in t.depends_on if d not in engine.tasks}
    known = await engine.store.task_states(list(outside)) if outside else {}
    for task in tasks:  # every loaded task is in engine.tasks, so order does not matter
        engine.admit(task, known, announce=False)


async def poll_external(engine: Engine) -> None:
    """Admit submitted tasks, apply cancel requests and agent changes from other processes."""
    await _admit_submitted(engine)
    for task_id in await engine.store.fetch_cancel_requests():
        task = engine.tasks.get(task_id)
        if task is None:
            continue  # still submitted (not admitted yet): keep the request for later
        if not task.state.is_terminal:
            engine.cancel_now(task)
        engine.journal.cancel_handled(task_id)
    since = engine._agents_seen
    for spec in await engine.store.agents_changed_since(since - 1.0):
        engine._agents_seen = max(engine._agents_seen, spec.updated_at)
        current = engine.agents.get(spec.id)
        # a row read before an in-process change committed must not undo that change
        if current is None or (current.spec != spec and spec.updated_at > current.spec.updated_at):
            engine.apply_agent(spec)
    _check_remote_agents(engine)


async def _admit_submitted(engine: Engine) -> None:
    tasks = [
        t for t in await engine.store.fetch_submitted(SUBMITTED_BATCH) if t.id not in engine.tasks
    ]
    if not tasks:
        return
    batch = {t.id: t for t in tasks}
    outside = {d for t in tasks for d in t.depends_on if d not in engine.tasks and d not in batch}
    known = await engine.store.task_states(list(outside)) if outside else {}
    progress = True
    while batch and progress:  # admit dependencies before their dependents
        progress = False
        for task in list(batch.values()):
            if any(d in batch or known.get(d) is TaskState.SUBMITTED for d in task.depends_on):
                continue  # a dependency is not admitted yet: later in this loop or next poll
            del batch[task.id]
            engine.admit(task, known)
            progress = True


def _check_remote_agents(engine: Engine) -> None:
    """Mark remote agents offline when they stop polling or heart-beating."""
    now = engine.clock.now()
    for agent in engine.agents.values():
        if not agent.remote or not agent.online or agent.last_heartbeat is None:
            continue
        if now - agent.last_heartbeat > 2 * engine.config.lease_seconds:
            agent.online = False
            engine._event(
                "agent.offline", data={"last_seen": agent.last_heartbeat}, agent_id=agent.spec.id
            )
