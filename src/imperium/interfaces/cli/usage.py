"""``imperium usage``: tokens and cost recorded on attempts, per agent, task type or UTC
day; ``imperium usage budgets``: where each agent with a daily budget stands today."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer
from rich.table import Table

from imperium.interfaces.cli._common import console, offline, print_json, run, settings
from imperium.services.usage import UsageReport

app = typer.Typer(
    help="Tokens and cost per agent, task type and day; daily budgets.",
    invoke_without_command=True,
)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


async def _usage(database: str | None, by: str, days: int) -> UsageReport:
    from imperium.runtime import SystemClock, make_usage

    async with offline(settings(database)) as im:
        return await make_usage(im.store, SystemClock()).usage(by, days)


async def _budgets(database: str | None) -> tuple[str, list[dict[str, Any]]]:
    from imperium.runtime import SystemClock, make_usage

    async with offline(settings(database)) as im:
        service = make_usage(im.store, SystemClock())
        return service.today(), [dataclasses.asdict(b) for b in await service.budgets()]


@app.callback()
def usage(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="agent, task_type or day.")] = "agent",
    days: Annotated[int, typer.Option(help="UTC days back, today included.")] = 7,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Tokens and cost recorded on attempts over the last DAYS days, grouped --by."""
    if ctx.invoked_subcommand is not None:
        return
    report = run(_usage(database, by, days))
    rows = [dataclasses.asdict(r) for r in (*report.rows, report.total)]
    if as_json:
        print_json({"by": report.by, "since": report.since, "until": report.until,
                    "rows": rows[:-1], "total": rows[-1]})  # fmt: skip
        return
    table = Table(title=f"usage by {by}, last {days} day(s) (UTC)")
    for column in (by, "attempts", "with usage", "tokens", "cost"):
        table.add_column(column, justify="left" if column == by else "right")
    for r in rows:
        table.add_row(r["key"], str(r["attempts"]), str(r["reported"]), str(r["tokens"]),
                      f"{r['cost']:.6g}")  # fmt: skip
    console.print(table)
    if report.total.attempts and not report.total.reported:
        console.print("no attempt reported usage (agents report it with Output(tokens=, cost=))")


@app.command("budgets")
def budgets(database: Database = None, as_json: Json = False) -> None:
    """Agents with a daily budget: today's spend, and whether they are held until midnight."""
    day, items = run(_budgets(database))
    if as_json:
        print_json({"day": day, "items": items})
        return
    if not items:
        console.print('no agent has a daily budget (config "budget": {"tokens_per_day": N})')
        return
    table = Table(title=f"daily budgets, {day} (UTC)")
    for column in ("agent", "tokens", "cost", "held"):
        table.add_column(column)
    for b in items:
        tokens = f"{b['tokens_spent']} / {b['tokens_per_day'] or '-'}"
        cost = f"{b['cost_spent']:.6g} / {b['cost_per_day'] or '-'}"
        table.add_row(b["agent_id"], tokens, cost, "yes" if b["held"] else "no")
    console.print(table)
    for b in items:
        if b["reason"]:
            console.print(b["reason"])


async def _cycles(database: str | None, limit: int) -> list[dict[str, Any]]:
    from imperium.runtime import SystemClock, make_usage

    async with offline(settings(database)) as im:
        periods = await make_usage(im.store, SystemClock()).by_cycle(limit)
    return [{"cycle_id": c.cycle_id, "since": c.since, "until": c.until,
             **dataclasses.asdict(c.usage)} for c in periods]  # fmt: skip


@app.command("cycles")
def cycles(
    limit: Annotated[int, typer.Option(help="The newest cycles.")] = 10,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Tokens and cost of the attempts each learning cycle learned from (since the one
    before it)."""
    rows = run(_cycles(database, limit))
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("fewer than two learning cycles recorded: no period to count yet")
        return
    table = Table(title="usage per learning cycle (attempts since the cycle before)")
    for column in ("cycle", "attempts", "with usage", "tokens", "cost"):
        table.add_column(column, justify="left" if column == "cycle" else "right")
    for r in rows:
        table.add_row(r["cycle_id"], str(r["attempts"]), str(r["reported"]), str(r["tokens"]),
                      f"{r['cost']:.6g}")  # fmt: skip
    console.print(table)
