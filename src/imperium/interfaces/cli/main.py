"""The ``imperium`` command."""

from __future__ import annotations

import asyncio
import signal
from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import Progress, TaskID

from imperium import __version__
from imperium.domain.errors import ImperiumError
from imperium.interfaces.cli import (
    agents,
    alerts,
    crypto,
    custody,
    dashboard,
    fraud,
    keys,
    knowledge,
    learning,
    simulate,
    status,
    tasks,
    teams,
    transfer,
    usage,
    worker,
)
from imperium.interfaces.cli._common import (
    configure_logging,
    console,
    err_console,
    import_from_working_directory,
    print_json,
    progress,
    run,
    settings,
)

app = typer.Typer(
    help="Imperium: orchestration for fleets of AI agents that learns from every run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        console.print(f"imperium {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Imperium: orchestration for fleets of AI agents that learns from every run."""


app.add_typer(agents.app, name="agents")
app.add_typer(tasks.app, name="tasks")
app.add_typer(teams.app, name="teams")
app.add_typer(keys.app, name="keys")
app.add_typer(alerts.app, name="alerts")
app.add_typer(knowledge.app, name="knowledge")
app.add_typer(crypto.app, name="crypto")
app.add_typer(fraud.app, name="fraud")
app.add_typer(usage.app, name="usage")
app.add_typer(custody.app, name="custody")
app.add_typer(custody.proposals_app, name="proposals")
app.command("submit")(tasks.submit)
app.command("worker")(worker.worker)
app.command("status")(status.status)
app.command("learn")(learning.learn)
app.command("analyze")(learning.analyze)
app.command("insights")(learning.insights)
app.command("predict")(learning.predict)
app.command("export")(transfer.export)
app.command("import")(transfer.import_)
app.command("simulate")(simulate.simulate)
app.command("dashboard")(dashboard.dashboard)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
bench_app = typer.Typer(
    help="Benchmarks: a summary, one figure a line (--json for JSON).", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]


class Synchronous(StrEnum):
    NORMAL = "NORMAL"
    FULL = "FULL"


@app.command()
def serve(
    standby: Annotated[
        bool, typer.Option(help="Wait for the scheduler lock instead of refusing to start.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address the HTTP API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")] = 8000,
    database: Database = None,
) -> None:
    """Run the scheduler and the HTTP API (docs at /docs) until Ctrl-C or SIGTERM."""
    from imperium.interfaces.api.server import is_loopback

    import_from_working_directory()  # agents registered as module:function, from here
    cfg = settings(database)
    configure_logging(cfg.log_level)
    public = not is_loopback(host)

    async def go() -> int:
        from imperium.interfaces.api.server import HttpServer
        from imperium.interfaces.dashboard import create_app
        from imperium.runtime import Imperium, tune_gc

        im = await Imperium.open(cfg)
        try:  # the port first: a port in use should not wait for the scheduler lock
            if public and not await im.keys.enabled():
                raise ImperiumError(
                    f"refusing to listen on {host} without API keys: anyone who can reach "
                    "it could run work. Create an admin key first with `imperium keys "
                    "create --name admin --role admin`, or listen on 127.0.0.1"
                )
            http = HttpServer(create_app(im, auth_required=public), host, port, cfg.log_level)
        except BaseException:
            await im.store.close()
            raise
        tune_gc()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        starting = asyncio.create_task(im.start(standby=standby))
        stop_requested = asyncio.create_task(stop.wait())
        await asyncio.wait([starting, stop_requested], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # Ctrl-C while waiting as a standby
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await http.stop()
            await im.store.close()
            err_console.print("stopped while waiting for the scheduler lock")
            return 0
        if starting.exception() is not None:
            await http.stop()
            await im.store.close()
            starting.result()  # re-raise: run() turns it into a message
        serving = http.start()
        await http.started()
        keys = "required" if public or await im.keys.enabled() else "off (loopback, no keys)"
        err_console.print(
            f"[green]imperium[/] scheduling on {_redact(cfg.database_url)} "
            f"(agents: {', '.join(a.spec.id for a in im.engine.snapshot().agents) or 'none'}); "
            f"API on {http.url} (docs at {http.url}/docs; API keys {keys}); "
            f"dashboard at {http.url}/; Ctrl-C stops"
        )
        stopped = asyncio.create_task(im.engine.failed.wait())
        await asyncio.wait([stop_requested, stopped, serving], return_when=asyncio.FIRST_COMPLETED)
        failed = im.engine.journal.failed
        err_console.print("stopping: draining running work…")
        im.engine.stop_dispatching()  # ends open lease long-polls, so the server stops at once
        await http.stop()
        await im.close()
        if failed is not None:
            err_console.print(f"[bold red]error:[/] the scheduler stopped: {failed}")
            return 1
        return 0

    code = run(go())
    raise typer.Exit(code)


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


@db_app.command("upgrade")
def db_upgrade(database: Database = None) -> None:
    """Apply the database migrations (also done at every start)."""
    cfg = settings(database)

    async def go() -> None:
        from imperium.adapters.storage.migrate import upgrade_database

        await upgrade_database(cfg.database_url)

    run(go())
    console.print(f"database at {_redact(cfg.database_url)} is up to date")


def _progress_bar(total: int, label: str) -> tuple[Progress, TaskID]:
    bar = progress()
    return bar, bar.add_task(label, total=total)


@bench_app.command("throughput")
def bench_throughput(
    n_tasks: Annotated[int, typer.Option("--tasks", min=1)] = 20_000,
    database: Annotated[
        str | None, typer.Option(help="Database URL; default a fresh temporary SQLite file.")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="The echo agent's slots.")] = 4_000,
    batch: Annotated[int, typer.Option(min=1, help="Tasks per submit call.")] = 1_000,
    synchronous: Annotated[
        Synchronous, typer.Option(help="SQLite synchronous level.", case_sensitive=False)
    ] = Synchronous.NORMAL,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run N echo tasks end to end and print the throughput."""
    from imperium.benchmarks.throughput import ThroughputConfig, run_throughput
    from imperium.runtime import tune_gc

    tune_gc()
    cfg = ThroughputConfig(n_tasks, database, concurrency, batch, 4, synchronous.value)
    bar, job = _progress_bar(n_tasks, "tasks done")
    with bar:
        result = run(run_throughput(cfg, lambda done, total: bar.update(job, completed=done)))
    _print_result(result, as_json)


@bench_app.command("scheduling")
def bench_scheduling(
    queued: Annotated[int, typer.Option(min=0, help="Tasks already waiting.")] = 10_000,
    measured: Annotated[int, typer.Option(min=1)] = 20_000,
    database: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cost per task with a backlog of queued tasks (flat from 10k to 1M)."""
    from imperium.benchmarks.throughput import run_scheduling
    from imperium.runtime import tune_gc

    tune_gc()
    bar, job = _progress_bar(queued + measured, "tasks")
    with bar:
        result = run(
            run_scheduling(queued, measured, database, lambda d, t: bar.update(job, completed=d))
        )
    _print_result(result, as_json)


@bench_app.command("http")
def bench_http(
    rate: Annotated[
        float, typer.Option(min=1, help="Requests per second in the fixed-rate phase.")
    ] = 200.0,
    duration: Annotated[float, typer.Option(min=1, help="Seconds per phase.")] = 10.0,
    connections: Annotated[
        int, typer.Option(min=1, max=1000, help="Concurrent clients in the max-rate phase.")
    ] = 16,
    database: Annotated[
        str | None, typer.Option(help="Database URL; default a fresh temporary SQLite file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Submit tasks over HTTP to a real `imperium serve`: max submit rate, then latency at
    a fixed request rate."""
    from imperium.benchmarks.http import HttpLoadConfig, run_http_load

    bar, job = _progress_bar(2, "phases")
    with bar:
        result = run(
            run_http_load(
                HttpLoadConfig(rate, duration, connections, database),
                lambda done, total: bar.update(job, completed=done),
            )
        )
    _print_result(result, as_json)


def _print_result(result: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(result)
    else:
        for key, value in result.items():
            console.print(f"[bold]{key}[/]: {value}")


def main() -> None:
    app()
