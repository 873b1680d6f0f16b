"""``imperium worker MODULE:FUNCTION``: run a function or Agent class as a remote agent."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from imperium.interfaces.cli._common import (
    configure_logging,
    err_console,
    fail,
    import_from_working_directory,
    parse_json_option,
    settings,
)

if TYPE_CHECKING:
    from imperium.worker import Worker


def worker(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:FUNCTION",
            help="The agent: module:function, module:AgentClass, or an installed agent type.",
        ),
    ],
    agent_id: Annotated[str, typer.Option("--agent-id", help="This agent's id on the server.")],
    capability: Annotated[
        list[str] | None,
        typer.Option("--capability", "-c", help="What it can do; repeat for several."),
    ] = None,
    server: Annotated[
        str, typer.Option("--server", envvar="IMPERIUM_SERVER", help="The server's URL.")
    ] = "http://127.0.0.1:8000",
    concurrency: Annotated[int, typer.Option(min=1, max=1000, help="Attempts at once.")] = 1,
    lease_wait: Annotated[
        float, typer.Option(min=0, max=30, help="Seconds each long-poll for work waits.")
    ] = 10.0,
    config: Annotated[str | None, typer.Option(help="The agent's config as a JSON object.")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="IMPERIUM_API_KEY",
            show_default=False,
            help="This agent's API key (an agent key from `imperium keys create`).",
        ),
    ] = None,
) -> None:
    """Run an agent here that leases tasks from a server, until Ctrl-C or SIGTERM.

    The server registers the agent (type remote) if it does not know it yet.

    The first Ctrl-C lets running attempts finish; a second abandons them.
    """
    from imperium.agents.loader import load_agent_class
    from imperium.domain.errors import AgentLoadError
    from imperium.worker import Worker

    import_from_working_directory()
    configure_logging(settings().log_level)
    # httpx logs every request at INFO: a long-polling worker would log one every few seconds
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
    agent_config = parse_json_option(config, "--config")
    if agent_config is not None and not isinstance(agent_config, dict):
        raise fail('--config must be a JSON object, e.g. \'{"model": "small"}\'')
    try:
        agent_class = load_agent_class(target)
    except AgentLoadError as exc:
        raise fail(str(exc)) from None
    remote = Worker(
        server,
        agent_id,
        agent_class,
        capabilities=capability or [],
        concurrency=concurrency,
        lease_wait=lease_wait,
        config=agent_config,
        api_key=api_key,
    )
    raise typer.Exit(asyncio.run(_serve(remote)))


async def _serve(remote: Worker) -> int:
    from imperium.client import ClientError
    from imperium.worker import WorkerError

    main = asyncio.current_task()
    assert main is not None
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            err_console.print(
                f"stopping: finishing {remote.running} running attempt(s); "
                "Ctrl-C again abandons them"
            )
            remote.stop()
        else:
            main.cancel()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    err_console.print(
        f"[green]imperium worker[/] {remote.agent_id} ({remote.agent_class.__name__}) "
        f"for {remote.server_url}; Ctrl-C stops"
    )
    try:
        await remote.run()
    except ClientError as exc:
        err_console.print(f"[bold red]error:[/] {exc.detail}")
        return 1
    except WorkerError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        return 1
    except asyncio.CancelledError:
        err_console.print("stopped; abandoned attempts run again once their leases expire")
        return 130
    return 0
