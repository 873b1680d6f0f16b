"""Turning records into JSON-ready dicts and Rich tables."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from imperium.domain.models import AgentSpec, Event, Execution, Task
from imperium.interfaces.cli._common import iso, short_time
from imperium.ports import AgentStats

STATE_STYLE = {
    "succeeded": "green",
    "running": "cyan",
    "queued": "blue",
    "pending": "magenta",
    "submitted": "white",
    "failed": "red",
    "dead": "red",
    "timed_out": "red",
    "cancelled": "yellow",
}


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


def styled_state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"


def tasks_table(tasks: list[Task]) -> Table:
    table = Table(title=f"{len(tasks)} task(s)")
    for col in ("id", "type", "state", "priority", "score", "attempts", "agent", "created"):
        table.add_column(col)
    for t in tasks:
        table.add_row(
            t.id,
            t.type,
            styled_state(str(t.state)),
            str(t.priority),
            f"{t.score:.1f}",
            f"{t.attempts}/{t.max_attempts}",
            t.agent_id or "-",
            short_time(t.created_at),
        )
    return table


def agents_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len(rows)} agent(s)")
    for col in ("id", "type", "status", "capabilities", "max conc.", "runs", "success", "mean s"):
        table.add_column(col)
    for r in rows:
        rate = r["success_rate"]
        mean = r["mean_duration_seconds"]
        table.add_row(
            r["agent_id"],
            r["agent_type"],
            r["status"],
            ", ".join(r["capabilities"]),
            str(r["max_concurrency"]),
            str(r["executions"]),
            "-" if rate is None else f"{rate:.0%}",
            "-" if mean is None else f"{mean:.3f}",
        )
    return table


def executions_table(rows: list[Execution]) -> Table:
    table = Table(title="attempts")
    for col in ("#", "agent", "outcome", "started", "seconds", "error"):
        table.add_column(col)
    for e in rows:
        error = f"{e.error_kind}: {e.error_message}" if e.error_kind else ""
        table.add_row(
            str(e.attempt),
            e.agent_id or "-",
            styled_state(str(e.outcome)),
            short_time(e.started_at),
            f"{e.duration:.3f}",
            error,
        )
    return table
