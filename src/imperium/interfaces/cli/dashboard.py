"""``imperium dashboard``: the learning overview in the terminal (success over time,
agents ranked by learning score, recent insights, model accuracy, last cycles), once or
refreshed every N seconds. It renders ``services.learning.overview`` as is; ``--json``
prints the API's ``dashboard_metrics`` shape."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from imperium.interfaces.cli._common import (
    console,
    fail,
    num,
    offline,
    pct,
    print_json,
    run,
    settings,
    short_time,
)

if TYPE_CHECKING:
    from imperium.domain.learning import AgentFigures, Insight, LearningCycle, ModelReport
    from imperium.services.learning.overview import Overview, TrendPoint

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
LIMIT = 10
"""Insights, cycles and model versions read (as the API's dashboard)."""
MODELS_SHOWN = 5
CYCLES_SHOWN = 5
BAR_HEIGHT = 4
"""Lines of a success-trend bar (each line holds eight levels)."""
EIGHTHS = " ▁▂▃▄▅▆▇█"
HORIZONTAL = " ▏▎▍▌▋▊▉█"
EMPTY = (
    "Nothing is recorded yet: no executions, learning cycles, insights or models.\n\n"
    "To get data, either run tasks (register agents with `imperium agents register`, "
    "start `imperium serve`, then `imperium submit`), or import a recorded history with "
    "`imperium import FILE` (a file written by `imperium export`). Then run "
    "`imperium learn` (or let `imperium serve` run its learning cycles) to train the "
    "models and find insights."
)

_sleep = asyncio.sleep
"""How the watch waits between refreshes (a seam for tests)."""


def dashboard(
    watch: Annotated[
        int | None,
        typer.Option(
            "--watch",
            min=1,
            metavar="SECONDS",
            help="Refresh every SECONDS seconds (at least 1) until Ctrl-C.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the figures as JSON (the API's shape).")
    ] = False,
    database: Database = None,
) -> None:
    """The learning dashboard: success rate and its trend, agents ranked by learning
    score, recent insights, model accuracy on held-out data and the last learning cycles,
    from the newest executions (IMPERIUM_LEARNING_HISTORY of them)."""
    if watch is not None and json_out:
        raise fail("--watch and --json do not go together: --json prints the figures once")
    cfg = settings(database)

    async def read_once() -> Overview:
        from imperium.services.learning.overview import overview

        async with offline(cfg) as services:
            return await overview(services.store, cfg.learning_history, limit=LIMIT)

    if json_out:
        from imperium.interfaces.records import cycle_dict, overview_dict

        data = run(read_once())
        print_json({**overview_dict(data), "recent_cycles": [cycle_dict(c) for c in data.cycles]})
        return
    if watch is None:
        console.print(render(run(read_once())))
        return

    async def follow(every: int) -> None:
        from rich.live import Live

        from imperium.services.learning.overview import overview

        async with offline(cfg) as services:

            async def frame() -> RenderableType:
                data = await overview(services.store, cfg.learning_history, limit=LIMIT)
                footer = Text(
                    f"refreshed {short_time(time.time())}, every {every} s; Ctrl-C stops",
                    style="dim",
                )
                return Group(render(data), footer)

            with Live(await frame(), console=console, auto_refresh=False) as live:
                while True:
                    await _sleep(every)
                    live.update(await frame(), refresh=True)

    try:
        run(follow(watch))
    except typer.Exit as exc:
        if exc.exit_code != 130:  # 130: Ctrl-C, which is how a watch ends
            raise


# ---------------------------------------------------------------------- rendering
def render(data: Overview) -> RenderableType:
    """The whole dashboard, or a plain message when nothing is recorded."""
    if not (data.executions or data.cycles or data.insights or data.models):
        return Panel(EMPTY, title="Imperium dashboard", border_style="yellow")
    return Group(
        _header(data),
        _trend(data.trend),
        _rankings(data.rankings),
        _insights(data.insights),
        _models(data.models[:MODELS_SHOWN]),
        _cycles(data.cycles[:CYCLES_SHOWN]),
    )


def _rate_style(rate: float | None) -> str:
    if rate is None:
        return "dim"
    return "green" if rate >= 0.8 else "yellow" if rate >= 0.5 else "red"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.1f} s"


def _minute(ts: float) -> str:
    return short_time(ts)[:-3]


def _header(data: Overview) -> Panel:
    rate = data.success_rate
    active = sum(1 for f in data.rankings if f.executions)
    lines = [
        Text.assemble(
            ("success rate ", "bold"),
            (pct(rate), f"bold {_rate_style(rate)}"),
            f"  {data.successes} succeeded of {data.learned} attempts learned from "
            f"({data.executions} newest executions read)",
        ),
        Text(f"agents {len(data.rankings)} ({active} with attempts)"),
    ]
    cycle = data.cycles[0] if data.cycles else None
    if cycle is None:
        lines.append(Text("last cycle none yet (run `imperium learn`)", style="dim"))
    else:
        status = cycle.status.value
        lines.append(
            Text.assemble(
                "last cycle ",
                (status, _status_style(status)),
                f" ({cycle.trigger}) at {_minute(cycle.start_time)}",
            )
        )
    model = data.models[0] if data.models else None
    lines.append(
        Text(
            f"model {model.kind} (AUC {num(model.auc)}, Brier skill {num(model.brier_skill)} "
            f"on {model.held_out} held-out executions)"
        )
        if model
        else Text("model none trained yet", style="dim")
    )
    return Panel(Group(*lines), title="Imperium dashboard", border_style="cyan")


def _status_style(status: str) -> str:
    return {"completed": "green", "failed": "red"}.get(status, "yellow")


def _bar(rate: float, height: int = BAR_HEIGHT) -> list[str]:
    """A vertical bar, top line first, ``rate`` (0-1) of ``height`` lines high."""
    filled = round(max(0.0, min(1.0, rate)) * height * 8)
    return [EIGHTHS[max(0, min(8, filled - 8 * (height - 1 - row)))] * 3 for row in range(height)]


def _trend(trend: Sequence[TrendPoint]) -> Panel:
    title = "Success trend"
    if not trend:
        return Panel(
            Text("no attempts to learn from yet", style="dim"), title=title, title_align="left"
        )
    table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    for _ in trend:
        table.add_column(justify="right", no_wrap=True)
    bars = [_bar(p.success_rate or 0.0) if p.executions else [""] * BAR_HEIGHT for p in trend]
    for row in range(BAR_HEIGHT):
        table.add_row(
            "",
            *(
                Text(bar[row], style=_rate_style(p.success_rate))
                for bar, p in zip(bars, trend, strict=True)
            ),
        )
    table.add_row(
        "rate",
        *(Text(pct(p.success_rate, 0), style=_rate_style(p.success_rate)) for p in trend),
    )
    table.add_row("n", *(str(p.executions) for p in trend))
    span = trend[0].end - trend[0].start
    return Panel(
        table,
        title=f"{title}, oldest first ({len(trend)} spans of {_span(span)})",
        title_align="left",
        subtitle=f"{_minute(trend[0].start)} to {_minute(trend[-1].end)}",
        subtitle_align="left",
    )


def _score_bar(score: float, width: int = 10) -> str:
    eighths = round(max(0.0, min(100.0, score)) / 100 * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (HORIZONTAL[rest] if rest else "")).ljust(width)


def _rankings(rankings: Sequence[AgentFigures]) -> Panel:
    title = "Agents by learning score"
    if not rankings:
        return Panel(
            Text("no agents registered (imperium agents register)", style="dim"),
            title=title,
            title_align="left",
        )
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("agent", style="bold", overflow="fold")
    table.add_column("learning score", no_wrap=True)
    table.add_column("success", justify="right")
    table.add_column("executions", justify="right")
    for rank, f in enumerate(rankings, 1):
        rate = f.success_rate if f.executions else None
        table.add_row(
            str(rank),
            f.agent_id,
            Text.assemble((_score_bar(f.learning_score), "cyan"), f" {f.learning_score:5.1f}"),
            Text(pct(rate), style=_rate_style(rate)),
            str(f.executions),
        )
    note = Text(
        "learning score: 100 x the lower bound of the 95% interval of the success rate",
        style="dim",
    )
    return Panel(Group(table, note), title=title, title_align="left")


def _insights(insights: Sequence[Insight]) -> Panel:
    title = "Recent insights"
    if not insights:
        return Panel(
            Text("none yet: `imperium learn` finds them in recorded executions", style="dim"),
            title=title,
            title_align="left",
        )
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column("type", no_wrap=True)
    table.add_column("confidence", justify="right")
    table.add_column("n", justify="right")
    table.add_column("description", overflow="fold", ratio=1)
    for i in insights:
        table.add_row(
            i.insight_type.value, f"{i.confidence:.2f}", str(i.sample_size), i.description
        )
    return Panel(table, title=title, title_align="left")


def _models(models: Sequence[ModelReport]) -> Panel:
    title = "Model accuracy on held-out executions, newest version first"
    if not models:
        return Panel(
            Text("no model trained yet: run `imperium learn`", style="dim"),
            title=title,
            title_align="left",
        )
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column("trained", no_wrap=True)
    for name in ("kind", "held out", "AUC", "Brier", "skill", "MAE log-dur"):
        table.add_column(name, justify="left" if name == "kind" else "right", no_wrap=True)
    for m in models:
        table.add_row(
            _minute(m.trained_at),
            m.kind,
            str(m.held_out),
            num(m.auc),
            num(m.brier),
            num(m.brier_skill),
            num(m.mae_log_duration),
        )
    notes = [
        Text(f"fallback ({m.version}): {m.fallback_reason}", style="yellow")
        for m in models
        if m.fallback_reason
    ]
    return Panel(Group(table, *notes), title=title, title_align="left")


def _cycles(cycles: Sequence[LearningCycle]) -> Panel:
    title = "Last learning cycles"
    if not cycles:
        return Panel(
            Text("none yet: run `imperium learn`", style="dim"), title=title, title_align="left"
        )
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    table.add_column("started", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("took", justify="right", no_wrap=True)
    table.add_column("learned from", justify="right")
    table.add_column("insights", justify="right")
    table.add_column("value", justify="right")
    for c in cycles:
        status = c.status.value
        table.add_row(
            _minute(c.start_time),
            Text.assemble((status, _status_style(status)), f" ({c.trigger})"),
            _span(c.end_time - c.start_time) if c.end_time is not None else "-",
            str(c.metadata.get("executions_learned", "-")),
            str(c.insights_generated),
            num(c.total_learning_value),
        )
    note = Text("value: the held-out Brier skill of the model the cycle trained", style="dim")
    return Panel(Group(table, note), title=title, title_align="left")
