"""Records as JSON-ready dicts: the one shape of a task, attempt, event and agent that the
CLI's ``--json`` output and the HTTP API both show. Times are ISO-8601 strings in UTC.

May import the domain and ``ports``; nothing from the CLI or the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from imperium.domain.auth import ApiKey
from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.ports import AgentStats


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")


def task_dict(t: Task) -> dict[str, Any]:
    return {
        "id": t.id,
        "type": t.type,
        "name": t.name,
        "workflow_id": t.workflow_id,
        "state": str(t.state),
        "priority": str(t.priority),
        "score": round(t.score, 2),
        "payload": t.payload,
        "capabilities": sorted(t.required_capabilities),
        "pinned_agent": t.pinned_agent,
        "complexity": t.complexity,
        "resources": t.resources,
        "depends_on": list(t.depends_on),
        "attempts": t.attempts,
        "max_attempts": t.max_attempts,
        "agent_id": t.agent_id,
        "deadline": iso(t.deadline),
        "timeout": t.timeout,
        "result": t.result,
        "error_kind": t.error_kind,
        "error_message": t.error_message,
        "created_at": iso(t.created_at),
        "started_at": iso(t.started_at),
        "finished_at": iso(t.finished_at),
    }


def execution_dict(e: Execution) -> dict[str, Any]:
    return {
        "attempt": e.attempt,
        "agent_id": e.agent_id,
        "outcome": str(e.outcome),
        "started_at": iso(e.started_at),
        "finished_at": iso(e.finished_at),
        "duration_seconds": round(e.duration, 6),
        "error_kind": e.error_kind,
        "error_message": e.error_message,
        "tokens": e.tokens,
        "cost": e.cost,
    }


def event_dict(e: Event) -> dict[str, Any]:
    return {
        "event_type": e.event_type,
        "at": iso(e.created_at),
        "agent_id": e.agent_id,
        "data": e.data,
    }


def agent_dict(a: AgentSpec, stats: AgentStats | None) -> dict[str, Any]:
    executions = stats.executions if stats else 0
    return {
        "agent_id": a.id,
        "agent_type": a.type,
        "status": str(a.status),
        "priority": a.priority,
        "capabilities": sorted(a.capabilities),
        "max_concurrency": a.max_concurrency,
        "resources": a.resources,
        "config": a.config,
        "description": a.description,
        "executions": executions,
        "succeeded": stats.succeeded if stats else 0,
        "failed": stats.failed if stats else 0,
        "success_rate": (stats.succeeded / executions) if stats and executions else None,
        "mean_duration_seconds": stats.mean_duration if stats else None,
        "last_success": iso(stats.last_success) if stats else None,
        "last_failure": iso(stats.last_failure) if stats else None,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
    }


def key_dict(k: ApiKey) -> dict[str, Any]:
    """An API key without its secret (only ``imperium keys create`` ever shows that)."""
    return {
        "id": k.id,
        "name": k.name,
        "role": k.role.value,
        "agent_id": k.agent_id,
        "active": k.active,
        "created_at": iso(k.created_at),
        "revoked_at": iso(k.revoked_at),
    }
