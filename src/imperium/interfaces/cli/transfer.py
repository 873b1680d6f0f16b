"""``imperium export`` and ``imperium import``: what learning has recorded (executions in
full, cycles, insights, model reports, agents' learning figures) to and from a JSON file,
in the format of ``services.learning.transfer``. They work on the database directly."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from imperium.domain.errors import ValidationError
from imperium.interfaces.cli._common import (
    console,
    fail,
    offline,
    progress,
    read_json_file,
    run,
    settings,
)

if TYPE_CHECKING:
    from imperium.domain.models import Execution

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
CHUNK = 1000
"""Executions converted or stored between two steps of the progress bar."""


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
        from imperium.services.learning.transfer import FORMAT, VERSION

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
        rows = _executions_json(executions)
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


def _executions_json(executions: list[Execution]) -> list[dict[str, Any]]:
    from imperium.services.learning.transfer import execution_to_json

    rows: list[dict[str, Any]] = []
    with progress() as bar:
        job = bar.add_task("exporting executions", total=len(executions))
        for i in range(0, len(executions), CHUNK):
            chunk = executions[i : i + CHUNK]
            rows.extend(execution_to_json(e) for e in chunk)
            bar.advance(job, len(chunk))
    return rows


def import_(
    file: Annotated[Path, typer.Argument(help="A file written by `imperium export`.")],
    database: Database = None,
) -> None:
    """Import the executions of an export (those already recorded are skipped); the next
    learning cycle learns from them."""
    cfg = settings(database)
    document = read_json_file(file)
    from imperium.services.learning.transfer import read_export

    try:
        executions = read_export(document)
    except ValidationError as exc:
        raise fail(f"{file}: {exc}") from None

    async def go() -> int:
        added = 0
        async with offline(cfg) as services:
            with progress() as bar:
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
