"""Cycles left ``running``: which process a learner runs its cycles in, and whether a row
still saying ``running`` was left so by a process that is gone.

A cycle's row says which process runs it (:class:`CycleRunner`). A process killed during
a cycle cannot record its end, so a scheduler that starts (or takes over as a standby)
records as failed, reason "scheduler restart", the cycles left ``running`` by the earlier
scheduler or by a process that is gone (``Learner.settle_interrupted``). Pure: the learner
reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from imperium.domain.learning import CycleStatus, LearningCycle

UNSETTLED_SCAN = 1000
"""How many of the newest cycles a starting scheduler looks through for ones left running."""


@dataclass(frozen=True, slots=True)
class CycleRunner:
    """The process a learner runs its cycles in, recorded in every cycle it starts, so that
    a scheduler starting later can tell the ``running`` rows whose process is gone."""

    name: str
    """Unique per process (``host:pid:random``; in ``imperium serve`` the scheduler lock's
    owner)."""
    scheduler: bool = False
    """True in the scheduler process: its cycles end when it stops holding the lock."""
    is_dead: Callable[[str], bool] = lambda _name: False
    """Whether the process of that name is known to be gone (same host, no such process)."""


def runner_fields(runner: CycleRunner | None) -> dict[str, object]:
    """What a cycle's metadata records of the process running it."""
    if runner is None:
        return {}
    return {"process": runner.name, "scheduler": runner.scheduler}


def left_by_gone_process(
    cycle: LearningCycle, running: str | None, runner: CycleRunner | None
) -> str | None:
    """Why ``cycle`` ended, when it was left running by a process that is gone (``running``:
    the cycle this process runs now; ``runner``: this process)."""
    if cycle.status is not CycleStatus.RUNNING or cycle.cycle_id == running:
        return None
    process = cycle.metadata.get("process")
    if not isinstance(process, str):
        return "scheduler restart: left running by an earlier scheduler"
    if runner is None or process == runner.name:
        return None
    if cycle.metadata.get("scheduler") is True:
        return f"scheduler restart: the scheduler running it ({process}) stopped"
    if runner.is_dead(process):
        return f"scheduler restart: the process running it ({process}) is gone"
    return None
