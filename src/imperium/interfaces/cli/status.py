"""``imperium status``: tasks, attempts, agents and where learning stands, read from the
database directly (no server needed)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from imperium.domain.states import Outcome
from imperium.interfaces.cli._common import console, num, offline, pct, print_json, run, settings

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def status(json_out: Json = False, database: Database = None) -> None:
    """System status: tasks, executions, agents, and where learning stands."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import cycle_dict, model_report_dict
        from imperium.runtime import SystemClock, make_usage

        async with offline(cfg) as services:
            store = services.store
            states = await store.count_tasks_by_state()
            outcomes = await store.count_executions_by_outcome()
            agents = await store.list_agents()
            loads = await store.agent_loads()
            cycles = await store.list_cycles(1)
            models = await store.list_models(1)
            budgets = await make_usage(store, SystemClock()).budgets()
        succeeded = outcomes.get(Outcome.SUCCEEDED, 0)
        finished = sum(outcomes.values())
        return {
            "tasks": {str(k): v for k, v in sorted(states.items())},
            "executions": {str(k): v for k, v in sorted(outcomes.items())},
            "success_rate": succeeded / finished if finished else None,
            "agents": {
                "total": len(agents),
                "active": sum(1 for a in agents if a.status == "active"),
                "not_loaded": {
                    a.id: load.error
                    for a in agents
                    if (load := loads.get(a.id)) is not None
                    and not load.loaded
                    and a.status != "retired"
                },
                "budget_spent": {b.agent_id: b.reason for b in budgets if b.held},
            },
            "learning": {
                "enabled": cfg.learning_enabled,
                "mode": cfg.learning_mode if cfg.learning_enabled else "disabled",
                "cycle_interval_seconds": cfg.learning_cycle_interval,
                "last_cycle": cycle_dict(cycles[0]) if cycles else None,
                "model": model_report_dict(models[0]) if models else None,
            },
        }

    report = run(go())
    if json_out:
        print_json(report)
        return
    console.print(_status_table(report))


def _status_table(report: dict[str, Any]) -> Table:
    table = Table(title="Imperium status", show_header=False)
    table.add_column("what")
    table.add_column("value")
    tasks = report["tasks"]
    table.add_row("tasks", ", ".join(f"{k} {v}" for k, v in tasks.items()) or "none")
    executions = report["executions"]
    table.add_row("attempts", ", ".join(f"{k} {v}" for k, v in executions.items()) or "none")
    table.add_row("success rate", pct(report["success_rate"]))
    table.add_row("agents", f"{report['agents']['active']} active of {report['agents']['total']}")
    for agent_id, error in report["agents"]["not_loaded"].items():
        table.add_row("[red]not loaded[/]", f"{agent_id}: {error}")
    for reason in report["agents"]["budget_spent"].values():
        table.add_row("[yellow]budget spent[/]", reason)
    _add_learning_rows(table, report["learning"])
    return table


def _add_learning_rows(table: Table, learning: dict[str, Any]) -> None:
    table.add_row("learning", learning["mode"])
    cycle = learning["last_cycle"]
    table.add_row(
        "last cycle",
        f"{cycle['status']} at {cycle['start_time']}" if cycle else "none yet (imperium learn)",
    )
    model = learning["model"]
    table.add_row(
        "model",
        f"{model['kind']} {model['version']} (AUC {num(model['auc'])}, Brier {num(model['brier'])})"
        if model
        else "none yet",
    )
