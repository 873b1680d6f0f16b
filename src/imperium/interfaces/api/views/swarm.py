"""The swarm snapshot's counts as the L20 and swarm routes answer them."""

from __future__ import annotations

from typing import Any

from imperium.domain.states import PriorityLevel, TaskState
from imperium.interfaces.records import iso
from imperium.services.swarm.autoscaler import Pool, Scaled
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


def autoscaling(pools: list[Pool]) -> list[dict[str, Any]]:
    return [_pool(p) for p in pools]


def _pool(p: Pool) -> dict[str, Any]:
    policy, reading = p.policy, p.reading
    return {
        "agent_id": p.agent_id,
        "min": policy.minimum if policy else None,
        "max": policy.maximum if policy else None,
        "cooldown_seconds": policy.cooldown if policy else None,
        "target_wait_seconds": policy.target_wait if policy else None,
        "idle_seconds": policy.idle if policy else None,
        "current": reading.size if reading else None,
        "running": reading.running if reading else None,
        "backlog": reading.backlog if reading else None,
        "wait_seconds": round(reading.wait, 3) if reading else None,
        "cooldown_until": iso(p.cooldown_until),
        "last_decision": _scaled(p.last) if p.last else None,
        "error": p.error,
    }


def _scaled(s: Scaled) -> dict[str, Any]:
    d = s.decision
    return {
        "action": d.action,
        "before": d.before,
        "after": d.after,
        "reason": d.reason,
        "trigger": s.trigger,
        "backlog": s.reading.backlog,
        "wait_seconds": round(s.reading.wait, 3),
        "running": s.reading.running,
        "at": iso(s.at),
    }
