"""Waiting for submitted tasks from the CLI: say at once why they cannot run, show progress
on stderr, and poll cheaply (one query for every unfinished task, less often as time goes).

A task the CLI submits runs only when a scheduler (``imperium serve``) holds the lock on the
same database and a registered agent offers what it needs; without either, waiting would be
silent and endless, so both are checked before waiting. While waiting, the lock is checked
again now and then, and so is what holds back tasks that have not started (an agent paused
or retired since, its code not loaded: :mod:`._reasons`), said on stderr when it changes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from imperium.domain.errors import ImperiumError
from imperium.domain.models import Task
from imperium.domain.states import TaskState
from imperium.interfaces.cli._common import err_console
from imperium.interfaces.cli._reasons import unrunnable, why_not_running

if TYPE_CHECKING:
    from imperium.runtime import Offline

FIRST_POLL = 0.05
LAST_POLL = 1.0
LOCK_CHECK_EVERY = 5.0  # seconds between checks that the scheduler runs and tasks can start


class CannotRunError(ImperiumError):
    """Submitted tasks that nothing would ever run: no scheduler, or no agent able to."""


def next_poll(interval: float) -> float:
    """Poll quickly at first (a short task returns at once), then back off to LAST_POLL."""
    return min(LAST_POLL, interval * 1.5)


async def scheduler_running(services: Offline) -> bool:
    """Whether a scheduler holds this database's lock (it renews it while it runs)."""
    lock = await services.store.read_lock()
    return lock is not None and lock.expires_at >= time.time()


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


async def wait_for(
    services: Offline, tasks: Sequence[Task], wait_seconds: float | None
) -> list[Task]:
    """Poll until every task ended, with progress on stderr, and say there why tasks do
    not start when something other than their turn holds them back (an agent paused or
    retired, its code not loaded…), whenever that changes; the full tasks at the end."""
    ids = [t.id for t in tasks]
    give_up = None if wait_seconds is None else time.monotonic() + wait_seconds
    next_check, said = time.monotonic(), None  # reasons checked at once, then now and then
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
                    f"({described}){_because(said)}"
                )
            if now >= next_check:
                next_check = now + LOCK_CHECK_EVERY
                await _require_scheduler(services, len(left))
                reason = await why_not_running(services, _current(tasks, states))
                if reason is not None and reason != said:
                    progress.console.print(f"[yellow]{escape(reason)}[/]")
                said = reason
            await asyncio.sleep(interval)
            interval = next_poll(interval)
    return [t for t in [await services.store.get_task(i) for i in ids] if t is not None]


async def _require_scheduler(services: Offline, left: int) -> None:
    if not await scheduler_running(services):
        raise CannotRunError(
            f"the scheduler stopped: no scheduler is running on this database, "
            f"{left} task(s) not ended; start `imperium serve` again"
        )


def _current(tasks: Sequence[Task], states: dict[str, TaskState]) -> list[Task]:
    """``tasks`` not ended, each in its state now (what they ask for does not change)."""
    return [
        replace(t, state=states[t.id])
        for t in tasks
        if t.id in states and not states[t.id].is_terminal
    ]


def _because(reason: str | None) -> str:
    return "" if reason is None else f"; last seen: {reason}"


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
