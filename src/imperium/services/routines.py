"""Routines: the server's periodic work (the seed's schedule), visible in ``/api/status``.

Each routine has an interval (0: off) and an action. Most actions submit a task to a
built-in agent — a learning cycle to ``imperium``, a security scan to ``guardian``, a
performance analysis to ``conquest``, experiments to ``sandbox`` — so that the work is
recorded, retried and learned from like any other; the housekeeping ones (pruning the
router's memory of agents that are gone, deleting old events) run in the server itself.

A routine's first run is one interval after start (a restart does not re-run everything at
once). A failing action is logged and shown with its error; the routine keeps its period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imperium.ports import Clock
from imperium.services.engine.journal import describe_storage_error, is_storage_failure

log = logging.getLogger(__name__)

Action = Callable[[], Awaitable[dict[str, object]]]


@dataclass(slots=True)
class Routine:
    name: str
    interval: float
    """Seconds between runs; 0 means off."""
    action: Action
    description: str
    off_reason: str | None = None
    first_delay: float | None = None
    """Seconds from start to the first run (default: one interval). The daily cleanup
    runs soon after start, so a server restarted every day still enforces retention."""
    """Why it does not run although it has an interval (e.g. nothing configured)."""
    runs: int = 0
    failures: int = 0
    last_run: float | None = None
    last_status: str | None = None
    last_result: dict[str, object] = field(default_factory=dict)
    next_run: float | None = None

    @property
    def active(self) -> bool:
        return self.interval > 0 and self.off_reason is None


def _plan_first(routine: Routine, now: float) -> None:
    delay = routine.interval if routine.first_delay is None else routine.first_delay
    routine.next_run = now + delay if routine.active else None


class Routines:
    def __init__(self, clock: Clock, routines: list[Routine]) -> None:
        self.clock = clock
        self.routines = {r.name: r for r in routines}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        now = self.clock.now()
        for routine in self.routines.values():
            _plan_first(routine, now)
        self._task = asyncio.create_task(self._loop())

    def add(self, routine: Routine) -> None:
        """Another routine, before or after :meth:`start` (one of the same name is
        replaced); once started, its first run is one interval (or first delay) away."""
        self.routines[routine.name] = routine
        if self._task is None:
            return
        _plan_first(routine, self.clock.now())
        if self._task.done():  # the loop ends when no routine is due
            self._task = asyncio.create_task(self._loop())
        self._wake.set()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run_now(self, name: str) -> Routine:
        """Run one routine at once (also when off), e.g. from a test or an operator."""
        routine = self.routines[name]
        await self._run(routine)
        return routine

    async def _loop(self) -> None:
        try:
            await self._run_due()
        except asyncio.CancelledError:
            raise
        except Exception:  # never silently: /api/status would show stale next runs
            log.exception("the routine loop stopped")
            for routine in self.routines.values():
                routine.next_run = None
                routine.last_status = "stopped: the routine loop failed (see the log)"

    async def _run_due(self) -> None:
        while True:
            due = [r for r in self.routines.values() if r.next_run is not None]
            if not due:
                return
            now = self.clock.now()
            soonest = min(due, key=lambda r: r.next_run or 0.0)
            wait = (soonest.next_run or now) - now
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # woken early by add()
                    await asyncio.wait_for(self._wake.wait(), min(wait, 60.0))
                continue
            await self._run(soonest)
            soonest.next_run = self.clock.now() + soonest.interval

    async def _run(self, routine: Routine) -> None:
        routine.last_run = self.clock.now()
        routine.runs += 1
        try:
            routine.last_result = await routine.action()
            routine.last_status = str(routine.last_result.get("status", "ok"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_storage_failure(exc):  # an outage: the journal says so once, not each run
                log.warning("routine %s: %s", routine.name, describe_storage_error(exc))
            else:
                log.exception("routine %s failed", routine.name)
            routine.failures += 1
            routine.last_status = "failed"
            routine.last_result = {"error": f"{type(exc).__name__}: {exc}"}

    def snapshot(self) -> list[dict[str, object]]:
        return [
            {
                "name": r.name,
                "description": r.description,
                "interval_seconds": r.interval,
                "active": r.active,
                "off_reason": r.off_reason
                if r.off_reason is not None
                else (None if r.interval > 0 else "interval is 0"),
                "runs": r.runs,
                "failures": r.failures,
                "last_run": r.last_run,
                "last_status": r.last_status,
                "last_result": r.last_result,
                "next_run": r.next_run,
            }
            for r in self.routines.values()
        ]
