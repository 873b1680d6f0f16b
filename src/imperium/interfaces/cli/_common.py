"""Helpers shared by the CLI commands: running async code, output, errors, parsing."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from imperium.domain.errors import ImperiumError
from imperium.settings import Settings

if TYPE_CHECKING:
    from imperium.runtime import Offline

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning the errors a user can cause into a message and exit 1."""
    try:
        return asyncio.run(coro)
    except ImperiumError as exc:  # plain text: "imperium[ray]" is not Rich markup
        raise fail(escape(str(exc))) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except (OSError, ConnectionError) as exc:
        raise fail(f"cannot reach the database: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
            raise fail(
                f"database error: {exc}. Check DATABASE_URL and that the database is up"
            ) from None
        raise


def settings(database: str | None = None) -> Settings:
    """Settings from the environment; a bad value is a message, not a traceback."""
    from pydantic import ValidationError as PydanticValidationError

    from imperium.interfaces.specs import describe

    try:
        return Settings(database_url=database) if database else Settings()
    except PydanticValidationError as exc:
        raise fail(f"invalid setting: {describe(exc)}") from None


def import_from_working_directory() -> None:
    """Put the working directory first on the import path, as ``python -m`` does and
    Celery's ``-A`` and Ray's driver do, so ``--type myagents:summarise`` finds
    ``./myagents.py`` (a console script's path holds only its own directory)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


@asynccontextmanager
async def offline(cfg: Settings) -> AsyncIterator[Offline]:
    """The store and services for commands that do not run the scheduler."""
    from imperium.runtime import Offline

    services = await Offline.open(cfg)
    try:
        yield services
    finally:
        await services.close()


def print_json(value: Any) -> None:
    sys.stdout.write(
        orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    )


def short_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def pct(value: float | None, digits: int = 1) -> str:
    """A rate as a percentage; ``-`` where there is none (no data is not 0%)."""
    return "-" if value is None else f"{value:.{digits}%}"


def num(value: float | None, digits: int = 3) -> str:
    """A figure to ``digits`` decimals; ``-`` where there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def progress() -> Progress:
    """A progress bar on stderr (stdout stays for the result), gone when it ends."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def read_json_file(file: Path) -> Any:
    """A JSON file's content; a missing file or bad JSON is a message, not a traceback."""
    try:
        return orjson.loads(file.read_bytes())
    except OSError as exc:
        raise fail(f"cannot read {file}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise fail(f"{file} is not valid JSON: {exc}") from None


def parse_json_option(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise fail(f"{what} is not valid JSON ({exc}); quote it, e.g. '{{\"key\": 1}}'") from None


def parse_resources(items: list[str] | None) -> dict[str, float]:
    resources: dict[str, float] = {}
    for item in items or []:
        name, sep, amount = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            resources[name.strip()] = float(amount)
        except ValueError:
            raise fail(f"resource '{item}' must look like name=amount, e.g. cpu=2") from None
    return resources


def parse_when(text: str | None, now: float) -> float | None:
    """A deadline option: an ISO-8601 time, or +30s / +5m / +2h from now."""
    if text is None:
        return None
    from imperium.interfaces.specs import parse_deadline

    try:
        return parse_deadline(text, now)
    except ValueError as exc:
        raise fail(str(exc)) from None
