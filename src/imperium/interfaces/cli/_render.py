"""Records as Rich tables (their JSON form is in ``interfaces/records.py``)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from imperium.domain.models import Execution, Task
from imperium.interfaces.cli._common import short_time

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
            agent_status(r),
            ", ".join(r["capabilities"]),
            str(r["max_concurrency"]),
            str(r["executions"]),
            "-" if rate is None else f"{rate:.0%}",
            "-" if mean is None else f"{mean:.3f}",
        )
    return table


def agent_status(r: dict[str, Any]) -> str:
    """The registry's status, or ``not loaded`` when the scheduler could not load its code."""
    if r.get("loaded") is False and r["status"] != "retired":
        return "[red]not loaded[/]"
    return str(r["status"])


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
