"""The learning commands (the seed's learning-system CLI): learn, analyze, insights,
predict. They work on the database directly (no server needed). Beside them: ``status``
in ``status.py``, ``export``/``import`` in ``transfer.py``, ``simulate`` in
``simulate.py``, ``dashboard`` in ``dashboard.py``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from imperium.domain.learning import InsightType
from imperium.interfaces.cli._common import (
    console,
    err_console,
    fail,
    num,
    offline,
    pct,
    print_json,
    run,
    settings,
)

if TYPE_CHECKING:
    from imperium.runtime import Offline
    from imperium.services.learning.service import Learner
    from imperium.settings import Settings

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _learner(cfg: Settings, services: Offline) -> Learner:
    from imperium.runtime import make_learner
    from imperium.services.events import EventBus

    # the cycle's learning event is stored (no listener in this process to publish to)
    return make_learner(cfg, services.store, EventBus(), teams=services.store)


# ---------------------------------------------------------------------- learn
def learn(json_out: Json = False, database: Database = None) -> None:
    """Run a learning cycle now: refit the predictors, generate insights, update agents."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import cycle_dict

        async with offline(cfg) as services:
            learner = _learner(cfg, services)
            with err_console.status("learning from recorded executions…"):
                cycle = await learner.run_cycle("manual")
            return cycle_dict(cycle)

    cycle = run(go())
    if json_out:
        print_json(cycle)
    else:
        _print_cycle(cycle)
    if cycle["status"] != "completed":
        raise typer.Exit(1)


def _print_cycle(cycle: dict[str, Any]) -> None:
    model = cycle["metadata"].get("model") or {}
    console.print(
        f"cycle {cycle['cycle_id']} [bold]{cycle['status']}[/]: "
        f"{cycle['metadata'].get('executions_learned', 0)} executions, "
        f"{len(cycle['participating_agents'])} agents, "
        f"{cycle['insights_generated']} insights, model {model.get('kind', '-')} "
        f"(AUC {num(model.get('auc'))}, Brier {num(model.get('brier'))})"
    )
    if model.get("fallback_reason"):
        console.print(f"[yellow]{model['fallback_reason']}[/]")
    if cycle["metadata"].get("error"):
        console.print(f"[red]{cycle['metadata']['error']}[/]")


# ---------------------------------------------------------------------- analyze
def analyze(
    limit: Annotated[int, typer.Option(min=1, max=100, help="Model versions to show.")] = 5,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Model accuracy on held-out data, version by version, and how each agent does on
    each task type (from the newest executions)."""
    cfg = settings(database)

    async def go() -> dict[str, Any]:
        from imperium.domain.insights import agent_figures
        from imperium.interfaces.records import model_report_dict

        async with offline(cfg) as services:
            models = await services.store.list_models(limit)
            executions = await services.store.recent_executions(cfg.learning_history)
            agents = await services.store.list_agents()
        figures = agent_figures(executions, [a.id for a in agents], [])
        return {
            "models": [model_report_dict(m) for m in models],
            "executions_analysed": len(executions),
            "agents": [
                {
                    "agent_id": f.agent_id,
                    "executions": f.executions,
                    "success_rate": f.success_rate,
                    "learning_score": f.learning_score,
                    "task_types": f.learning_patterns,
                }
                for f in figures
            ],
        }

    report = run(go())
    if json_out:
        print_json(report)
        return
    _print_models(report["models"])
    console.print(_agents_table(report))


def _print_models(models: list[dict[str, Any]]) -> None:
    if not models:
        console.print("no model trained yet: run `imperium learn` (or wait for the next cycle)")
        return
    table = Table(title="Models (accuracy on held-out executions)")
    for col in ("version", "kind", "trained", "train", "held out", "AUC", "Brier", "skill"):
        table.add_column(col)
    table.add_column("MAE log-dur")
    for m in models:
        table.add_row(
            m["version"], m["kind"], m["trained_at"], str(m["train_samples"]),
            str(m["held_out"]), num(m["auc"]), num(m["brier"]), num(m["brier_skill"]),
            num(m["mae_log_duration"]),
        )  # fmt: skip
    console.print(table)
    if models[0]["fallback_reason"]:
        console.print(f"[yellow]{models[0]['fallback_reason']}[/]")


def _agents_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Agents ({report['executions_analysed']} newest executions)")
    for col in ("agent", "task type", "attempts", "success", "median s"):
        table.add_column(col)
    for agent in report["agents"]:
        if not agent["task_types"]:
            table.add_row(agent["agent_id"], "-", "0", "-", "-")
        for pattern in agent["task_types"]:
            table.add_row(
                agent["agent_id"], str(pattern["task_type"]), str(pattern["attempts"]),
                pct(pattern["success_rate"]), num(pattern.get("median_duration"), 2),
            )  # fmt: skip
    return table


# ---------------------------------------------------------------------- insights
def insights(
    insight_type: Annotated[
        InsightType | None, typer.Option("--type", help="Only this kind of insight.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    json_out: Json = False,
    database: Database = None,
) -> None:
    """The insights of the last learning cycle, with confidence and sample size."""
    cfg = settings(database)

    async def go() -> list[dict[str, Any]]:
        from imperium.interfaces.records import insight_dict
        from imperium.services.learning.insights import latest_insights

        async with offline(cfg) as services:
            found = await latest_insights(services.store, limit, insight_type)
        return [insight_dict(i) for i in found]

    rows = run(go())
    if json_out:
        print_json({"insights": rows})
        return
    if not rows:
        console.print("no insights yet: run `imperium learn` once executions are recorded")
        return
    table = Table(title=f"{len(rows)} insight(s)")
    for col in ("type", "confidence", "n", "description", "when"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["insight_type"], f"{r['confidence']:.2f}", str(r["sample_size"]),
            r["description"], r["created_at"],
        )  # fmt: skip
    console.print(table)


# ---------------------------------------------------------------------- predict
def predict(
    task_type: Annotated[str, typer.Argument(help="Task type, e.g. web_development.")],
    complexity: Annotated[float, typer.Argument(help="Task complexity, e.g. 2.5.")],
    json_out: Json = False,
    database: Database = None,
) -> None:
    """Recommend the agent for a task: expected success and duration, confidence,
    alternatives, risks."""
    cfg = settings(database)
    if not math.isfinite(complexity):
        raise fail("complexity must be a finite number")

    async def go() -> dict[str, Any]:
        from imperium.interfaces.records import recommendation_dict

        async with offline(cfg) as services:
            learner = _learner(cfg, services)
            with err_console.status("learning from recorded executions…"):
                await learner.warm_up()
            return recommendation_dict(await learner.recommend(task_type, complexity))

    rec = run(go())
    if json_out:
        print_json(rec)
        return
    _print_recommendation(rec, f"{task_type} (complexity {complexity:g})")


def _print_recommendation(rec: dict[str, Any], task: str) -> None:
    p = rec["primary_recommendation"]
    console.print(
        f"[bold]{p['agents'][0]}[/] for {task}: "
        f"expected success {pct(p['expected_success'])}, duration "
        f"{num(p['expected_duration'], 1)} s, confidence it is the best {p['confidence']:.0%} "
        f"({p['sample_size']} attempts recorded)"
    )
    for risk in p["risk_factors"]:
        console.print(f"  [yellow]risk:[/] {risk}")
    for tip in p["optimization_suggestions"]:
        console.print(f"  [cyan]tip:[/] {tip}")
    if not rec["alternatives"]:
        return
    table = Table(title="alternatives")
    for col in ("agent", "success", "duration s", "confidence", "n"):
        table.add_column(col)
    for alt in rec["alternatives"]:
        table.add_row(
            alt["agents"][0], pct(alt["expected_success_rate"]),
            num(alt["expected_duration"], 1), f"{alt['confidence']:.0%}",
            str(alt["sample_size"]),
        )  # fmt: skip
    console.print(table)
