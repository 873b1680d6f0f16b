"""The alert routines: ``queue.wait`` alerts (how long the oldest ready task has waited),
and re-reading the rules so that changes made by other processes take effect.

It reads the engine's live state (through ``oldest_ready_at``, so this module needs no
engine), never the database: a check costs one pass over the ready tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from imperium.domain.models import Task
from imperium.services.notifications.service import AlertService
from imperium.services.routines import Routine


def oldest_ready_at(ready: Iterable[Task]) -> float | None:
    """Since when the longest-waiting ready task has been dispatchable (None: none is)."""
    return min(
        (t.ready_at if t.ready_at is not None else t.created_at for t in ready), default=None
    )


def queue_wait_routine(
    alerts: AlertService, ready: Callable[[], Iterable[Task]], interval: float
) -> Routine:
    """Every ``interval`` seconds, alerts for the rules whose queue wait is exceeded."""

    async def check() -> dict[str, object]:
        if not any(rule.queue_wait_seconds is not None for rule in alerts.rules):
            return {"status": "ok", "raised": 0, "note": "no queue.wait rule"}
        return {"status": "ok", "raised": alerts.check_queue_wait(oldest_ready_at(ready()))}

    return Routine(
        "alert_queue_wait", interval, check,
        "queue.wait alert rules: the oldest ready task's wait against each rule's limit",
        first_delay=interval,
    )  # fmt: skip


def reload_routine(alerts: AlertService, interval: float) -> Routine:
    """Every ``interval`` seconds, the rules are read again (``imperium alerts`` writes
    them from another process) and expired cooldowns are forgotten."""

    async def reload() -> dict[str, object]:
        changed = await alerts.reload()
        return {"status": "ok", "changed": changed, **alerts.status()}

    return Routine(
        "alert_rules", interval, reload,
        "alert rules re-read from the database (changes made with `imperium alerts` reach "
        "this server) and expired cooldowns pruned",
    )  # fmt: skip
