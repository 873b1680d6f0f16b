"""The learning commands (the seed's learning-system CLI): status, learn, analyze, insights,
predict, export, import, simulate. They work on the database directly (no server needed);
``dashboard`` lives in ``dashboard.py``."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from imperium.domain.errors import ValidationError
from imperium.domain.learning import InsightType
from imperium.domain.states import Outcome
from imperium.interfaces.cli._common import (
    console,
    err_console,
    fail,
    offline,
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
CHUNK = 1000


def _learner(cfg: Settings, services: Offline) -> Learner:
    from imperium.runtime import make_learner
    from imperium.services.events import EventBus

    # the cycle's learning event is stored (no listener in this process to publish to)
    return make_learner(cfg, services.store, EventBus(), teams=services.store)


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# ---------------------------------------------------------------------- status
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
    learning = report["learning"]
    table = Table(title="Imperium status", show_header=False)
    table.add_column("what")
    table.add_column("value")
    tasks = report["tasks"]
    table.add_row("tasks", ", ".join(f"{k} {v}" for k, v in tasks.items()) or "none")
    executions = report["executions"]
    table.add_row("attempts", ", ".join(f"{k} {v}" for k, v in executions.items()) or "none")
    table.add_row("success rate", _pct(report["success_rate"]))
    table.add_row("agents", f"{report['agents']['active']} active of {report['agents']['total']}")
    for agent_id, error in report["agents"]["not_loaded"].items():
        table.add_row("[red]not loaded[/]", f"{agent_id}: {error}")
    for reason in report["agents"]["budget_spent"].values():
        table.add_row("[yellow]budget spent[/]", reason)
    table.add_row("learning", learning["mode"])
    cycle = learning["last_cycle"]
    table.add_row(
        "last cycle",
        f"{cycle['status']} at {cycle['start_time']}" if cycle else "none yet (imperium learn)",
    )
    model = learning["model"]
    table.add_row(
        "model",
        f"{model['kind']} {model['version']} (AUC {_num(model['auc'])}, "
        f"Brier {_num(model['brier'])})"
        if model
        else "none yet",
    )
    console.print(table)


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
        model = cycle["metadata"].get("model") or {}
        console.print(
            f"cycle {cycle['cycle_id']} [bold]{cycle['status']}[/]: "
            f"{cycle['metadata'].get('executions_learned', 0)} executions, "
            f"{len(cycle['participating_agents'])} agents, "
            f"{cycle['insights_generated']} insights, model {model.get('kind', '-')} "
            f"(AUC {_num(model.get('auc'))}, Brier {_num(model.get('brier'))})"
        )
        if model.get("fallback_reason"):
            console.print(f"[yellow]{model['fallback_reason']}[/]")
        if cycle["metadata"].get("error"):
            console.print(f"[red]{cycle['metadata']['error']}[/]")
    if cycle["status"] != "completed":
        raise typer.Exit(1)


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
    if not report["models"]:
        console.print("no model trained yet: run `imperium learn` (or wait for the next cycle)")
    else:
        table = Table(title="Models (accuracy on held-out executions)")
        for col in ("version", "kind", "trained", "train", "held out", "AUC", "Brier", "skill"):
            table.add_column(col)
        table.add_column("MAE log-dur")
        for m in report["models"]:
            table.add_row(
                m["version"], m["kind"], m["trained_at"], str(m["train_samples"]),
                str(m["held_out"]), _num(m["auc"]), _num(m["brier"]), _num(m["brier_skill"]),
                _num(m["mae_log_duration"]),
            )  # fmt: skip
        console.print(table)
        if report["models"][0]["fallback_reason"]:
            console.print(f"[yellow]{report['models'][0]['fallback_reason']}[/]")
    table = Table(title=f"Agents ({report['executions_analysed']} newest executions)")
    for col in ("agent", "task type", "attempts", "success", "median s"):
        table.add_column(col)
    for agent in report["agents"]:
        if not agent["task_types"]:
            table.add_row(agent["agent_id"], "-", "0", "-", "-")
        for pattern in agent["task_types"]:
            table.add_row(
                agent["agent_id"], str(pattern["task_type"]), str(pattern["attempts"]),
                _pct(pattern["success_rate"]), _num(pattern.get("median_duration"), 2),
            )  # fmt: skip
    console.print(table)


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
        from imperium.services.learning.service import latest_insights

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
    p = rec["primary_recommendation"]
    console.print(
        f"[bold]{p['agents'][0]}[/] for {task_type} (complexity {complexity:g}): "
        f"expected success {_pct(p['expected_success'])}, duration "
        f"{_num(p['expected_duration'], 1)} s, confidence it is the best {p['confidence']:.0%} "
        f"({p['sample_size']} attempts recorded)"
    )
    for risk in p["risk_factors"]:
        console.print(f"  [yellow]risk:[/] {risk}")
    for tip in p["optimization_suggestions"]:
        console.print(f"  [cyan]tip:[/] {tip}")
    if rec["alternatives"]:
        table = Table(title="alternatives")
        for col in ("agent", "success", "duration s", "confidence", "n"):
            table.add_column(col)
        for alt in rec["alternatives"]:
            table.add_row(
                alt["agents"][0], _pct(alt["expected_success_rate"]),
                _num(alt["expected_duration"], 1), f"{alt['confidence']:.0%}",
                str(alt["sample_size"]),
            )  # fmt: skip
        console.print(table)


# ---------------------------------------------------------------------- export / import
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON export.")],
    limit: Annotated[int, typer.Option(min=1, help="Newest executions to export.")] = 1_000_000,
    database: Database = None,
) -> None:
    """Write executions (in full), cycles, insights, model reports and agents' learning
    figures to a JSON file."""
    cfg = settings(database)

    async def go() -> dict[str, int]:
        from imperium.interfaces.records import cycle_dict, insight_dict, model_report_dict
        from imperium.services.learning.transfer import FORMAT, VERSION, execution_to_json

        async with offline(cfg) as services:
            store = services.store
            executions = await store.recent_executions(limit)
            cycles = [cycle_dict(c) for c in await store.list_cycles(1000)]
            found = [insight_dict(i) for i in await store.list_insights(1000)]
            models = [model_report_dict(m) for m in await store.list_models(1000)]
            agents = [
                {
                    "agent_id": a.agent_id,
                    "learning_score": a.learning_score,
                    "total_learning_cycles": a.total_learning_cycles,
                }
                for a in (await store.agent_learning()).values()
            ]
        rows: list[dict[str, Any]] = []
        with _progress() as bar:
            job = bar.add_task("exporting executions", total=len(executions))
            for i in range(0, len(executions), CHUNK):
                chunk = executions[i : i + CHUNK]
                rows.extend(execution_to_json(e) for e in chunk)
                bar.advance(job, len(chunk))
        document = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": time.time(),
            "executions": rows,
            "cycles": cycles,
            "insights": found,
            "models": models,
            "agents": agents,
        }
        try:
            file.write_bytes(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS))
        except OSError as exc:
            raise fail(f"cannot write {file}: {exc.strerror}") from None
        return {"executions": len(rows), "cycles": len(cycles)}

    counts = run(go())
    console.print(
        f"exported {counts['executions']} executions and {counts['cycles']} cycles to {file}"
    )


def import_(
    file: Annotated[Path, typer.Argument(help="A file written by `imperium export`.")],
    database: Database = None,
) -> None:
    """Import the executions of an export (those already recorded are skipped); the next
    learning cycle learns from them."""
    cfg = settings(database)
    try:
        document = orjson.loads(file.read_bytes())
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise fail(f"{file} is not valid JSON: {exc}") from None
    from imperium.services.learning.transfer import read_export

    try:
        executions = read_export(document)
    except ValidationError as exc:
        raise fail(f"{file}: {exc}") from None

    async def go() -> int:
        added = 0
        async with offline(cfg) as services:
            with _progress() as bar:
                job = bar.add_task("importing executions", total=len(executions))
                for i in range(0, len(executions), CHUNK):
                    chunk = executions[i : i + CHUNK]
                    added += await services.store.import_executions(chunk)
                    bar.advance(job, len(chunk))
        return added

    added = run(go())
    console.print(
        f"imported {added} executions ({len(executions) - added} already recorded); "
        "run `imperium learn` to learn from them"
    )


# ---------------------------------------------------------------------- simulate
def simulate(
    scenario: Annotated[Path, typer.Option("--scenario", help="Scenario JSON (see scenarios/).")],
    tasks: Annotated[int, typer.Option("--tasks", min=1, max=10_000_000)] = 10_000,
    policy: Annotated[
        str, typer.Option("--policy", help="learned, greedy, random or oracle.")
    ] = "learned",
    seed: Annotated[int, typer.Option("--seed")] = 1,
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Write one JSON line per decision here.")
    ] = None,
    retrain_every: Annotated[
        int, typer.Option("--retrain-every", min=1, help="Refit the predictor every N tasks.")
    ] = 1000,
    forgetting: Annotated[
        float | None,
        typer.Option(
            "--forgetting",
            min=0.9,
            max=1.0,
            help="The router's forgetting (default: IMPERIUM_ROUTER_FORGETTING).",
        ),
    ] = None,
    json_out: Json = False,
) -> None:
    """Measure routing against simulated agents whose truth the scenario gives: success,
    regret against the oracle, prediction accuracy, drift detection."""
    from imperium.domain.routing import RouterConfig
    from imperium.domain.scenario import parse_scenario

    chosen_forgetting = forgetting if forgetting is not None else settings().router_forgetting
    from imperium.runtime import make_predictor
    from imperium.services.learning.simulation import simulate as run_simulation

    try:
        data = orjson.loads(scenario.read_bytes())
    except OSError as exc:
        raise fail(f"cannot read {scenario}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise fail(f"{scenario} is not valid JSON: {exc}") from None
    try:
        parsed = parse_scenario(data, scenario.stem)
    except ValidationError as exc:
        raise fail(f"{scenario}: {exc}") from None
    sink = None
    try:
        sink = trace.open("wb") if trace is not None else None
    except OSError as exc:
        raise fail(f"cannot write {trace}: {exc.strerror}") from None
    try:
        with _progress() as bar:
            job = bar.add_task(f"simulating ({policy})", total=tasks)

            def write(line: dict[str, Any]) -> None:
                assert sink is not None
                sink.write(orjson.dumps(line) + b"\n")

            try:
                result = run_simulation(
                    parsed,
                    tasks=tasks,
                    policy=policy,
                    seed=seed,
                    make_predictor=make_predictor,
                    retrain_every=retrain_every,
                    router_config=RouterConfig(forgetting=chosen_forgetting),
                    trace=write if sink is not None else None,
                    progress=lambda done: bar.update(job, completed=done),
                )
            except ValidationError as exc:
                raise fail(str(exc)) from None
    finally:
        if sink is not None:
            sink.close()
    out: dict[str, Any] = result.as_json()
    if json_out:
        print_json(out)
        return
    console.print(
        f"{out['policy']} on {out.get('scenario') or scenario.stem}: {out['tasks']} tasks, "
        f"success {_pct(out['success_rate'])}, regret {out['regret']:.1f} "
        f"(expected reward {out['expected_reward']:.1f} of the oracle's "
        f"{out['oracle_expected_reward']:.1f})"
    )
    windows = out.get("regret_by_window") or []
    if windows:
        console.print(
            "regret per task by window: " + " ".join(f"{w['regret_per_task']:.3f}" for w in windows)
        )
    teams = out.get("teams")
    if teams:
        console.print(
            f"team tasks: {teams['tasks']} (teams of {teams['size']}, quorum {teams['quorum']}), "
            f"success {_pct(teams['success_rate'])}, regret against the best team "
            f"{teams['regret']:.1f}"
        )
