"""Records as Rich tables (their JSON form is in ``interfaces/records.py``)."""

from __future__ import annotations

from typing import Any

import orjson
from rich import box
from rich.markup import escape
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


JSON_FIELDS = frozenset({"payload", "result", "config", "data"})


def field_text(key: str, value: Any) -> str:
    """A record's field for Rich: JSON for payloads, results and anything structured (a
    Python repr is not what a user can paste back into --payload), markup escaped."""
    if key in JSON_FIELDS or isinstance(value, dict | list):
        return escape(orjson.dumps(value).decode())
    return escape(str(value))


def styled_state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"


NARROW = 110  # columns below which a task table keeps only what fits beside a full id
TASK_COLUMNS = ("id", "type", "state", "priority", "score", "attempts", "agent", "created")
NARROW_COLUMNS = ("id", "type", "state", "agent")


def tasks_table(tasks: list[Task], width: int) -> Table:
    """Tasks with their full ids (what ``tasks show`` and ``cancel`` take), even at 80
    columns: a narrow terminal gets fewer columns rather than cut ids."""
    narrow = width < NARROW
    table = Table(
        title=f"{len(tasks)} task(s)",
        box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD,
        caption="fewer columns in a narrow terminal; --json has every field" if narrow else None,
    )
    full_id = max((len(t.id) for t in tasks), default=2)
    columns = NARROW_COLUMNS if narrow else TASK_COLUMNS
    for col in columns:
        table.add_column(col, no_wrap=col == "id", min_width=full_id if col == "id" else None)
    for t in tasks:
        cells = {
            "id": t.id, "type": t.type, "state": styled_state(str(t.state)),
            "priority": str(t.priority), "score": f"{t.score:.1f}",
            "attempts": f"{t.attempts}/{t.max_attempts}", "agent": t.agent_id or "-",
            "created": short_time(t.created_at),
        }  # fmt: skip
        table.add_row(*(cells[col] for col in columns))
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
