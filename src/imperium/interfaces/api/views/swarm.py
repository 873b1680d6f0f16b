"""The swarm snapshot's counts as the L20 and swarm routes answer them."""

from __future__ import annotations

from typing import Any

from imperium.domain.states import PriorityLevel, TaskState
from imperium.services.swarm.snapshot import Snapshot


def tasks_by_state(snap: Snapshot) -> dict[str, int]:
    """Every state, counted in the database (0 for those with no task)."""
    return {str(s): snap.task_counts.get(s, 0) for s in TaskState}


def queued_by_priority(snap: Snapshot) -> dict[str, int]:
    return {str(level): snap.queued[level] for level in PriorityLevel}


def executions_dict(snap: Snapshot) -> dict[str, Any]:
    executions = snap.executions
    return {
        "by_outcome": {str(o): n for o, n in executions.by_outcome.items()},
        "succeeded": executions.succeeded,
        "failed": executions.failed,
        "total": executions.total,
        "success_rate": executions.success_rate,
    }
