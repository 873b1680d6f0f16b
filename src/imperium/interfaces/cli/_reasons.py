"""Why submitted tasks do not run, as the CLI can tell from the database (it does not run
the scheduler, so it reads what the scheduler reads: the registered agents, their latest
load, the scheduler's own ``task.unplaceable`` events).

:func:`unrunnable`: what stops a task for good with the agents registered now (no agent
offers the capabilities, or the resources, it asks for). :func:`why_not_running`: that,
or what stops it for now (every agent able to take it is paused or retired, or its code
could not be loaded; a custody level no able agent has), while ``submit --wait`` waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.selection import could_ever_take
from imperium.domain.states import AgentStatus, TaskState
from imperium.ports import AgentLoad

if TYPE_CHECKING:
    from imperium.runtime import Offline

WAITING_STATES = frozenset({TaskState.SUBMITTED, TaskState.QUEUED})  # not started, not held back
SHOWN = 3  # agents named in a reason


async def unrunnable(
    services: Offline, tasks: Sequence[Task], *, when_none_registered: bool = True
) -> str | None:
    """Why some of ``tasks`` can never start with the agents registered now, or None.
    With no agent registered at all (a database no scheduler has started on yet, whose
    start registers the built-in agents), None unless ``when_none_registered``."""
    registered = await services.store.list_agents()
    return _unrunnable(tasks, registered, when_none_registered=when_none_registered)


def _unrunnable(
    tasks: Sequence[Task], registered: list[AgentSpec], *, when_none_registered: bool = True
) -> str | None:
    agents = [a for a in registered if a.status is not AgentStatus.RETIRED]
    if not agents and not when_none_registered:
        return None
    offered = sorted({c for a in agents for c in a.capabilities})
    for task in tasks:
        if task.pinned_agent is not None:
            continue  # submit checked the pinned agent exists
        needed = task.required_capabilities
        able = [a for a in agents if needed <= a.capabilities]
        if not able:
            return _no_capability(task, needed, offered)
        if not any(could_ever_take(AgentState(spec=a), task) for a in able):
            return _too_big(task, able)
    return None


async def why_not_running(services: Offline, tasks: Sequence[Task]) -> str | None:
    """Why the first of ``tasks`` that waits for an agent (submitted or queued) cannot
    start now, or None when nothing but its turn (or a free agent) holds it back.
    Three reads, whatever the number of tasks: agents, loads, one task's events."""
    waiting = [t for t in tasks if t.state in WAITING_STATES]
    if not waiting:
        return None
    agents = await services.store.list_agents()
    reason = _unrunnable(waiting, agents)
    if reason is not None:
        return reason
    loads = await services.store.agent_loads()
    for task in waiting:
        reason = _held_back(task, agents, loads)
        if reason is not None:
            return _and_others(reason, len(waiting))
    return await _set_aside(services, waiting)


def _held_back(task: Task, agents: list[AgentSpec], loads: dict[str, AgentLoad]) -> str | None:
    """Why no agent able to take ``task`` may take it now: paused, retired, not loaded."""
    able = [a for a in agents if _could_take(a, task)]
    if not able:
        return None  # unrunnable() has said why; a pinned agent that went is the engine's
    ready = [a for a in able if a.status is AgentStatus.ACTIVE]
    if not ready:
        states = ", ".join(f"{a.id} is {a.status}" for a in able[:SHOWN])
        paused = [a.id for a in able if a.status is AgentStatus.PAUSED]
        hint = f" (`imperium agents resume {paused[0]}`)" if paused else ""
        return f"{_task(task)} is not running: of the agents able to take it, {states}{hint}"
    failed = [(a.id, load) for a in ready if (load := loads.get(a.id)) and not load.loaded]
    if len(failed) == len(ready):
        why = "; ".join(f"{agent_id}: {load.error}" for agent_id, load in failed[:SHOWN])
        return (
            f"{_task(task)} is not running: the scheduler could not load the code of the "
            f"agents able to take it ({why}). `imperium serve` imports agent code from the "
            "directory it runs in; fix the code or start it there"
        )
    return None


def _could_take(agent: AgentSpec, task: Task) -> bool:
    if task.pinned_agent is not None:
        return agent.id == task.pinned_agent
    return could_ever_take(AgentState(spec=agent), task)


async def _set_aside(services: Offline, waiting: list[Task]) -> str | None:
    """The scheduler's own word, when its latest event for the first queued task is that
    it set the task aside (e.g. a custody level no able agent has reached)."""
    queued = next((t for t in waiting if t.state is TaskState.QUEUED), None)
    if queued is None:
        return None
    events = await services.store.events_for(queued.id)
    if not events or events[-1].event_type != "task.unplaceable":
        return None
    data = events[-1].data
    reason = data.get("reason") if isinstance(data, dict) else None
    return f"{_task(queued)} is not running: the scheduler set it aside: {reason or 'unplaceable'}"


def _and_others(reason: str, waiting: int) -> str:
    if waiting == 1:
        return reason
    return f"{reason} ({waiting} tasks not started)"


def _task(task: Task) -> str:
    return f"task {task.id} ({task.type})"


def _no_capability(task: Task, needed: frozenset[str], offered: list[str]) -> str:
    missing = ", ".join(sorted(needed - set(offered))) or ", ".join(sorted(needed))
    known = (
        f"registered agents offer: {', '.join(offered)}"
        if offered
        else "no agent is registered yet (`imperium serve` registers the built-in ones)"
    )
    return (
        f"{_task(task)} cannot run: no registered agent offers "
        f"capability {missing}; {known}. It stays queued until one is registered "
        "(`imperium agents register ID --type ... -c CAPABILITY`)"
    )


def _too_big(task: Task, able: list[AgentSpec]) -> str:
    asked = ", ".join(f"{k}={v:g}" for k, v in sorted(task.resources.items()))
    offers = "; ".join(
        f"{a.id} {', '.join(f'{k}={v:g}' for k, v in sorted(a.resources.items())) or 'none'}"
        for a in able[:5]
    )
    return (
        f"{_task(task)} cannot run: it asks for {asked}, more than any agent "
        f"able to take it offers ({offers}). It stays queued until one offers enough "
        "(`imperium agents update ID --resource NAME=AMOUNT`)"
    )
