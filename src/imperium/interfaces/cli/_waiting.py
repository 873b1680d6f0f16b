"""Waiting for submitted tasks from the CLI: say at once why they cannot run, show progress
on stderr, and poll cheaply (one query for every unfinished task, less often as time goes).

A task the CLI submits runs only when a scheduler (``imperium serve``) holds the lock on the
same database and a registered agent offers what it needs; without either, waiting would be
silent and endless, so both are checked before waiting and the lock again while waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from imperium.domain.errors import ImperiumError
from imperium.domain.models import AgentSpec, AgentState, Task
from imperium.domain.selection import could_ever_take
from imperium.domain.states import AgentStatus
from imperium.interfaces.cli._common import err_console

if TYPE_CHECKING:
    from imperium.runtime import Offline

FIRST_POLL = 0.05
LAST_POLL = 1.0
LOCK_CHECK_EVERY = 5.0  # seconds between checks that the scheduler still runs


class CannotRunError(ImperiumError):
    """Submitted tasks that nothing would ever run: no scheduler, or no agent able to."""


def next_poll(interval: float) -> float:
    """Poll quickly at first (a short task returns at once), then back off to LAST_POLL."""
    return min(LAST_POLL, interval * 1.5)


async def scheduler_running(services: Offline) -> bool:
    """Whether a scheduler holds this database's lock (it renews it while it runs)."""
    lock = await services.store.read_lock()
    return lock is not None and lock.expires_at >= time.time()


async def unrunnable(
    services: Offline, tasks: Sequence[Task], *, when_none_registered: bool = True
) -> str | None:
    """Why some of ``tasks`` can never start with the agents registered now, or None.
    With no agent registered at all (a database no scheduler has started on yet, whose
    start registers the built-in agents), None unless ``when_none_registered``."""
    agents = [a for a in await services.store.list_agents() if a.status is not AgentStatus.RETIRED]
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


def _no_capability(task: Task, needed: frozenset[str], offered: list[str]) -> str:
    missing = ", ".join(sorted(needed - set(offered))) or ", ".join(sorted(needed))
    known = (
        f"registered agents offer: {', '.join(offered)}"
        if offered
        else "no agent is registered yet (`imperium serve` registers the built-in ones)"
    )
    return (
        f"task {task.id} ({task.type}) cannot run: no registered agent offers "
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
        f"task {task.id} ({task.type}) cannot run: it asks for {asked}, more than any agent "
        f"able to take it offers ({offers}). It stays queued until one offers enough "
        "(`imperium agents update ID --resource NAME=AMOUNT`)"
    )


async def check_runnable(services: Offline, tasks: Sequence[Task]) -> None:
    """Refuse to wait for tasks that would never end, saying why."""
    if not await scheduler_running(services):
        raise CannotRunError(
            f"{_stored(tasks)}, but no scheduler is running on this database: start "
            "`imperium serve` (same DATABASE_URL), then `imperium tasks watch ID`"
        )
    reason = await unrunnable(services, tasks)
    if reason is not None:
        raise CannotRunError(reason)


def _stored(tasks: Sequence[Task]) -> str:
    if len(tasks) == 1:
        return f"task {tasks[0].id} is stored"
    return f"{len(tasks)} tasks are stored"


async def wait_for(services: Offline, ids: list[str], wait_seconds: float | None) -> list[Task]:
    """Poll until every task ended, with progress on stderr; the full tasks at the end."""
    give_up = None if wait_seconds is None else time.monotonic() + wait_seconds
    next_lock_check = time.monotonic() + LOCK_CHECK_EVERY
    left, interval = list(ids), FIRST_POLL
    with _progress(len(ids)) as progress:
        bar = progress.tasks[0].id
        while True:
            states = await services.store.task_states(left)
            left = [i for i in left if i not in states or not states[i].is_terminal]
            by_state = Counter(str(states[i]) for i in left if i in states)
            described = ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
            progress.update(bar, completed=len(ids) - len(left), description=described or "done")
            if not left:
                break
            now = time.monotonic()
            if give_up is not None and now > give_up:
                raise ImperiumError(
                    f"gave up waiting after {wait_seconds}s; {len(left)} task(s) not ended "
                    f"({described})"
                )
            if now > next_lock_check:
                next_lock_check = now + LOCK_CHECK_EVERY
                if not await scheduler_running(services):
                    raise CannotRunError(
                        f"the scheduler stopped: no scheduler is running on this database, "
                        f"{len(left)} task(s) not ended; start `imperium serve` again"
                    )
            await asyncio.sleep(interval)
            interval = next_poll(interval)
    return [t for t in [await services.store.get_task(i) for i in ids] if t is not None]


def _progress(total: int) -> Progress:
    progress = Progress(
        "waiting:",
        BarColumn(),
        MofNCompleteColumn(),
        "[progress.description]{task.description}",
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    progress.add_task("submitted", total=total)
    return progress
