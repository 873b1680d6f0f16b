"""``imperium agents …``: register, list, show, update, pause, resume, retire."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.interfaces.cli._common import (
    console,
    offline,
    parse_json_option,
    parse_resources,
    print_json,
    run,
    settings,
)
from imperium.interfaces.cli._render import agents_table
from imperium.interfaces.records import agent_dict

app = typer.Typer(help="Register and manage agents.", no_args_is_help=True)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


async def _list(database: str | None) -> list[dict[str, Any]]:
    async with offline(settings(database)) as im:
        service = im.agents
        stats = await service.stats()
        return [agent_dict(a, stats.get(a.id)) for a in await service.list()]


@app.command("list")
def list_agents(database: Database = None, as_json: Json = False) -> None:
    """List agents with figures computed from their recorded attempts."""
    rows = run(_list(database))
    if as_json:
        print_json(rows)
    else:
        console.print(agents_table(rows))


@app.command()
def show(agent_id: str, database: Database = None, as_json: Json = False) -> None:
    """Show one agent."""
    rows = [r for r in run(_list(database)) if r["agent_id"] == agent_id]
    if not rows:
        raise typer.Exit(code=_missing(agent_id))
    if as_json:
        print_json(rows[0])
    else:
        for key, value in rows[0].items():
            console.print(f"[bold]{key}[/]: {value}")


def _missing(agent_id: str) -> int:
    from imperium.interfaces.cli._common import err_console

    err_console.print(
        f"[bold red]error:[/] no agent with id '{agent_id}'; see `imperium agents list`"
    )
    return 1


@app.command()
def register(
    agent_id: Annotated[str, typer.Argument(help="A unique id, e.g. summariser-1.")],
    agent_type: Annotated[
        str,
        typer.Option("--type", help="An installed type (echo), module:function, or remote."),
    ],
    capability: Annotated[
        list[str] | None, typer.Option("--capability", "-c", help="Repeat for several.")
    ] = None,
    priority: Annotated[str, typer.Option(help="high, medium or low.")] = "medium",
    max_concurrency: Annotated[int, typer.Option(help="Attempts it may run at once.")] = 1,
    resource: Annotated[
        list[str] | None, typer.Option("--resource", "-r", help="Offered, e.g. cpu=4.")
    ] = None,
    config: Annotated[str | None, typer.Option(help="JSON object passed to the agent.")] = None,
    description: Annotated[str, typer.Option()] = "",
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Register an agent. Capabilities default to the agent id."""
    cfg = {} if config is None else parse_json_option(config, "--config")
    spec = AgentSpec(
        id=agent_id,
        type=agent_type,
        capabilities=frozenset(capability or ()),
        priority=priority,
        max_concurrency=max_concurrency,
        resources=parse_resources(resource),
        config=cfg,
        description=description,
    )

    async def go() -> AgentSpec:
        async with offline(settings(database)) as im:
            return await im.agents.register(spec)

    saved = run(go())
    if as_json:
        print_json(agent_dict(saved, None))
    else:
        console.print(
            f"registered agent [bold]{saved.id}[/] ({saved.type}), capabilities "
            f"{', '.join(sorted(saved.capabilities))}"
        )


@app.command()
def update(
    agent_id: str,
    capability: Annotated[list[str] | None, typer.Option("--capability", "-c")] = None,
    priority: Annotated[str | None, typer.Option()] = None,
    max_concurrency: Annotated[int | None, typer.Option()] = None,
    resource: Annotated[list[str] | None, typer.Option("--resource", "-r")] = None,
    config: Annotated[str | None, typer.Option(help="JSON object; replaces the old one.")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    database: Database = None,
) -> None:
    """Change an agent's capabilities, priority, concurrency, resources or config."""
    changes: dict[str, Any] = {}
    if capability:
        changes["capabilities"] = capability
    if priority is not None:
        changes["priority"] = priority
    if max_concurrency is not None:
        changes["max_concurrency"] = max_concurrency
    if resource:
        changes["resources"] = parse_resources(resource)
    if config is not None:
        changes["config"] = parse_json_option(config, "--config")
    if description is not None:
        changes["description"] = description
    if not changes:
        from imperium.interfaces.cli._common import fail

        raise fail("nothing to change; pass at least one option (see --help)")

    async def go() -> AgentSpec:
        async with offline(settings(database)) as im:
            return await im.agents.update(agent_id, changes)

    saved = run(go())
    console.print(f"updated agent [bold]{saved.id}[/]: {', '.join(sorted(changes))}")


def _status_command(status: AgentStatus, verb: str) -> Any:
    def command(agent_id: str, database: Database = None) -> None:
        async def go() -> AgentSpec:
            async with offline(settings(database)) as im:
                return await im.agents.set_status(agent_id, status)

        saved = run(go())
        console.print(f"agent [bold]{saved.id}[/] is {saved.status}")

    command.__doc__ = f"{verb.capitalize()} an agent."
    return command


app.command("pause")(
    _status_command(AgentStatus.PAUSED, "pause (no new tasks; running ones finish)")
)
app.command("resume")(_status_command(AgentStatus.ACTIVE, "resume"))
app.command("retire")(_status_command(AgentStatus.RETIRED, "retire (for good; history is kept)"))
