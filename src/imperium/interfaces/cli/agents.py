"""``imperium agents …``: register, list, show, update, pause, resume, retire."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from imperium.agents.loader import is_local
from imperium.domain.models import AgentSpec
from imperium.domain.states import AgentStatus
from imperium.interfaces.cli._common import (
    console,
    fail,
    import_from_working_directory,
    offline,
    parse_json_option,
    parse_resources,
    print_json,
    run,
    settings,
)
from imperium.interfaces.cli._render import agents_table, field_text
from imperium.interfaces.cli._waiting import scheduler_running
from imperium.interfaces.records import agent_dict
from imperium.ports import AgentLoad

if TYPE_CHECKING:
    from imperium.runtime import Offline

LOAD_WAIT_SECONDS = 5.0
app = typer.Typer(help="Register and manage agents.", no_args_is_help=True)

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


async def _list(database: str | None) -> list[dict[str, Any]]:
    async with offline(settings(database)) as im:
        service = im.agents
        stats, loads = await service.stats(), await service.loads()
        return [agent_dict(a, stats.get(a.id), loads.get(a.id)) for a in await service.list()]


@app.command("list")
def list_agents(database: Database = None, as_json: Json = False) -> None:
    """List agents with figures computed from their recorded attempts."""
    rows = run(_list(database))
    if as_json:
        print_json(rows)
        return
    console.print(agents_table(rows))
    for r in rows:
        if r["loaded"] is False and r["status"] != "retired":
            console.print(f"[red]{r['agent_id']} not loaded:[/] {r['load_error']}")


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
            console.print(f"[bold]{key}[/]: {field_text(key, value)}")


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
    runtime: Annotated[
        str | None,
        typer.Option(help="local (in the server) or ray (IMPERIUM_RAY_ADDRESS's cluster)."),
    ] = None,
    stateful: Annotated[
        bool, typer.Option("--stateful", help="On Ray: a pool of actors kept between tasks.")
    ] = False,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Register an agent. Capabilities default to the agent id."""
    cfg = {} if config is None else parse_json_option(config, "--config")
    if runtime is not None:
        cfg["runtime"] = runtime  # stored in its config, as "runtime": "ray" would be
    if stateful:
        cfg["stateful"] = True
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

    import_from_working_directory()  # as `imperium serve` does: ./myagents.py is found

    async def go() -> tuple[AgentSpec, AgentLoad | None]:
        async with offline(settings(database)) as im:
            saved = await im.agents.register(spec)
            return saved, await _server_load(im, saved)

    saved, load = run(go())
    if as_json:
        print_json(agent_dict(saved, None, load))
    else:
        console.print(
            f"registered agent [bold]{saved.id}[/] ({saved.type}), capabilities "
            f"{', '.join(sorted(saved.capabilities))}"
            + ("" if load is None or not load.loaded else "; the scheduler loaded it")
        )
    if load is not None and not load.loaded:
        raise fail(
            f"agent {saved.id} is registered, but the running scheduler could not load it "
            f"(not loaded): {load.error}. `imperium serve` imports from the directory it was "
            "started in; fix that, then restart it or `imperium agents update` the agent"
        )


async def _server_load(im: Offline, saved: AgentSpec) -> AgentLoad | None:
    """How a running scheduler's load of a new local agent went, if it says within a few
    seconds (it picks agents up when it polls); None without a scheduler or an answer."""
    if not is_local(saved.type) or not await scheduler_running(im):
        return None
    give_up = time.monotonic() + LOAD_WAIT_SECONDS
    while time.monotonic() < give_up:
        load = (await im.agents.loads()).get(saved.id)
        if load is not None and load.at >= saved.updated_at:
            return load
        await asyncio.sleep(0.1)
    return None


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
