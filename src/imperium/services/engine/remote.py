"""Remote agents: agents of type ``remote`` pull work. A lease hands out a task with a
fencing token and an expiry; a heartbeat extends it; the result comes back through
``Engine.complete`` with the token (see core.py); an expired lease is a lost attempt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from imperium.domain.errors import ConflictError, NotFoundError, StaleLeaseError
from imperium.domain.models import AgentState, Task
from imperium.domain.states import AgentStatus, TaskState
from imperium.services.engine.journal import Journal
from imperium.services.engine.state import SchedulerState


class Engine(Protocol):
    """What leases need of the engine that drives them (core.py's Engine)."""

    state: SchedulerState
    journal: Journal
    ready_signal: asyncio.Event

    @property
    def dispatching(self) -> bool: ...

    async def serve_cached(self, tasks: Sequence[Task]) -> None: ...


@dataclass(frozen=True, slots=True)
class Lease:
    """A task handed to a remote agent; ``token`` must come back with the result."""

    task_id: str
    type: str
    payload: object
    attempt: int
    token: int
    expires_at: float
    complexity: float
    deadline: float | None
    timeout: float | None
    resources: dict[str, float]


async def lease(engine: Engine, agent_id: str, max_tasks: int, wait: float) -> list[Lease]:
    state = engine.state
    agent = _remote_agent(state, agent_id)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + wait  # a real wait: the loop's clock, not the injected one
    while True:
        agent.last_heartbeat, agent.online = state.clock.now(), True
        if not engine.dispatching:
            engine.journal.check_writable()  # an outage: a 503 to back off from, not a spin
            return []  # draining or stopped: hand out nothing new
        picked = _pick_for(state, agent, max_tasks)
        if picked:
            await engine.serve_cached(picked)  # results in the cache end their tasks here
            await engine.journal.commit()  # the lease is durable before anyone sees it
            leases = [_lease_of(t) for t in picked if t.state is TaskState.RUNNING]
            if leases or loop.time() >= give_up:
                return leases
            continue  # every one was served from the cache: look for more work
        left = give_up - loop.time()
        if left <= 0:
            return []
        engine.ready_signal.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(left, 1.0)):
                await engine.ready_signal.wait()


def _remote_agent(state: SchedulerState, agent_id: str) -> AgentState:
    agent = state.agents.get(agent_id)
    if agent is None:
        raise NotFoundError(f"no agent with id {agent_id}; register it first")
    if not agent.remote:
        raise ConflictError(
            f"agent {agent_id} runs in-process (type {agent.spec.type}); only agents "
            "of type 'remote' lease tasks"
        )
    if agent.spec.status is AgentStatus.RETIRED:
        raise ConflictError(f"agent {agent_id} is retired and receives no tasks")
    return agent


def _pick_for(state: SchedulerState, agent: AgentState, limit: int) -> list[Task]:
    """The best ready tasks this agent can take now, highest rank first, started on it."""
    picked: list[Task] = []
    while len(picked) < limit and (found := state.next_ready(_any, only=agent)) is not None:
        state.start(found[0], agent)
        picked.append(found[0])
    return picked


def _any(_agent: AgentState) -> bool:
    return True


def _lease_of(task: Task) -> Lease:
    assert task.lease_expires_at is not None
    return Lease(
        task.id,
        task.type,
        task.payload,
        task.attempts,
        task.lease_token,
        task.lease_expires_at,
        task.complexity,
        task.deadline,
        task.timeout,
        dict(task.resources),
    )


async def heartbeat(engine: Engine, agent_id: str, task_id: str, token: int) -> float:
    state = engine.state
    task = state.current(task_id, token)
    if task.agent_id != agent_id:
        raise StaleLeaseError(f"task {task_id} is leased to another agent")
    agent = state.agents.get(agent_id)
    if agent is not None:
        agent.last_heartbeat, agent.online = state.clock.now(), True
    expires_at = state.extend_lease(task)
    if engine.journal.outage is None:
        await engine.journal.commit()
    # else the lease lives on in memory: the worker may go on, and its result is taken
    # once the database is back (the stored expiry only matters after a restart, which
    # gives every lease a fresh period anyway)
    return expires_at
