"""``imperium knowledge …``: the knowledge base — search it, manage its trusted sources
and topics, ingest now (with progress), and see whether using it helps.

Offline first: ``imperium knowledge sources add notes files ./docs`` (or ``blog rss
./feed.xml``), then ``imperium knowledge ingest`` and ``imperium knowledge search "..."``.
A running server ingests every ``INTERNET_LEARNING_INTERVAL`` seconds as well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from imperium.domain.knowledge import IngestRecord, Source, SourceKind
from imperium.interfaces.cli._common import (
    console,
    fail,
    offline,
    print_json,
    run,
    settings,
    short_time,
)
from imperium.services.knowledge.service import KnowledgeService

app = typer.Typer(
    help="The knowledge base agents search (ctx.knowledge): trusted sources, topics, "
    "ingestion and search.",
    no_args_is_help=True,
)
sources_app = typer.Typer(help="List, add and remove trusted sources.", no_args_is_help=True)
topics_app = typer.Typer(help="List, add and remove topics (global or per agent).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(sources_app, name="sources")
app.add_typer(topics_app, name="topics")

Database = Annotated[str | None, typer.Option("--database", help="Overrides DATABASE_URL.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Agent = Annotated[str | None, typer.Option("--agent", help="The agent's topic (else global).")]


@asynccontextmanager
async def knowledge_base(database: str | None) -> AsyncIterator[KnowledgeService]:
    from imperium.runtime import SystemClock, make_knowledge

    cfg = settings(database)
    async with offline(cfg) as services:
        kb = make_knowledge(cfg, services.store, SystemClock())
        try:
            yield kb
        finally:
            await kb.close()


@app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many documents (1-50).")] = 5,
    topic: Annotated[str | None, typer.Option("--topic", help="Only this topic.")] = None,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """The best documents for QUERY (full-text search ranked by the database)."""

    async def go() -> list[dict[str, Any]]:
        async with knowledge_base(database) as kb:
            hits = await kb.search(query, k, topic)
            return [{"id": h.document_id, "score": round(h.score, 4), "title": h.title,
                     "url": h.url, "source": h.source_id, "text": h.text}
                    for h in hits]  # fmt: skip

    hits = run(go())
    if as_json:
        print_json(hits)
        return
    if not hits:
        console.print("no document matches; add sources and ingest (imperium knowledge --help)")
        return
    for n, hit in enumerate(hits, start=1):
        console.print(f"[bold]{n}. {escape(hit['title'])}[/]  (score {hit['score']})")
        console.print(f"   {escape(hit['url'])}  [dim]{escape(hit['source'])}[/]")
        console.print(f"   {escape(hit['text'][:200])}")


@sources_app.command("list")
def list_sources(database: Database = None, as_json: Json = False) -> None:
    """Trusted sources with their last run and error."""

    async def go() -> list[dict[str, Any]]:
        async with knowledge_base(database) as kb:
            rows = []
            for s in await kb.store.list_sources():
                state = await kb.store.get_state(s.id)
                rows.append({
                    "id": s.id, "kind": s.kind.value, "url": s.url, "trust": s.trust,
                    "enabled": s.enabled, "allowed_domains": list(s.domains()),
                    "daily_quota": s.daily_quota, "min_interval": s.min_interval,
                    "params": s.params, "last_run_at": state.last_run_at if state else None,
                    "last_error": state.last_error if state else None,
                })  # fmt: skip
            return rows

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("id", "kind", "url", "trust", "enabled", "last run", "last error")
    for r in rows:
        table.add_row(r["id"], r["kind"], escape(r["url"]), f"{r['trust']:.2f}",
                      "yes" if r["enabled"] else "no", short_time(r["last_run_at"]),
                      escape(r["last_error"] or ""))  # fmt: skip
    console.print(table)


@sources_app.command("add")
def add_source(
    source_id: Annotated[str, typer.Argument(help="A short id, e.g. python-blog.")],
    kind: Annotated[SourceKind, typer.Argument(help="rss, files, stackexchange, github, arxiv.")],
    url: Annotated[
        str | None,
        typer.Argument(
            help="Feed URL or file, directory, or API base URL (default: the public API)."
        ),
    ] = None,
    trust: Annotated[float, typer.Option(help="0-1: how much its documents count.")] = 0.5,
    domain: Annotated[
        list[str] | None,
        typer.Option("--domain", help="Another host it may fetch from (repeatable)."),
    ] = None,
    quota: Annotated[int | None, typer.Option(help="Requests per UTC day.")] = None,
    interval: Annotated[float, typer.Option(help="Seconds between its requests.")] = 1.0,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="key=value for the connector: tags=python;asyncio (Stack Exchange), "
            "query=..., kind=issues, token_env=GITHUB_TOKEN (GitHub), query=... (arXiv).",
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    database: Database = None,
) -> None:
    """Register a trusted source (nothing is fetched outside its domains)."""
    params = _params(param or [])
    source = Source(source_id, kind, url or "", trust=trust, enabled=not disabled,
                    allowed_domains=tuple(domain or ()), daily_quota=quota,
                    min_interval=interval, params=params)  # fmt: skip

    async def go() -> Source:
        async with knowledge_base(database) as kb:
            return await kb.add_source(source)

    added = run(go())
    console.print(f"added source {added.id} ({added.kind.value}) {escape(added.url)}")


def _params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"--param '{item}' must look like key=value, e.g. tags=python")
        params[key.strip()] = value.split(";") if key.strip() in ("tags", "repos") else value
    return params


@sources_app.command("remove")
def remove_source(source_id: str, database: Database = None) -> None:
    """Forget a source (its documents stay)."""

    async def go() -> None:
        async with knowledge_base(database) as kb:
            await kb.remove_source(source_id)

    run(go())
    console.print(f"removed source {source_id}")


@topics_app.command("list")
def list_topics(database: Database = None, as_json: Json = False) -> None:
    async def go() -> list[dict[str, Any]]:
        async with knowledge_base(database) as kb:
            return [{"name": t.name, "agent_id": t.agent_id} for t in await kb.store.list_topics()]

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    table = Table("topic", "agent")
    for r in rows:
        table.add_row(escape(r["name"]), r["agent_id"] or "(global)")
    console.print(table)


@topics_app.command("add")
def add_topic(name: str, agent: Agent = None, database: Database = None) -> None:
    async def go() -> None:
        async with knowledge_base(database) as kb:
            await kb.add_topic(name, agent)

    run(go())
    console.print(f"added topic {escape(name)}" + (f" for agent {agent}" if agent else ""))


@topics_app.command("remove")
def remove_topic(name: str, agent: Agent = None, database: Database = None) -> None:
    async def go() -> None:
        async with knowledge_base(database) as kb:
            await kb.remove_topic(name, agent)

    run(go())
    console.print(f"removed topic {escape(name)}")


@app.command("ingest")
def ingest(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Only this source (repeatable); default every enabled one."),
    ] = None,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Fetch the trusted sources now and store what is new (progress per source)."""

    async def go() -> list[IngestRecord]:
        async with knowledge_base(database) as kb:
            wanted = source or [s.id for s in await kb.store.list_sources() if s.enabled]
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          console=console, transient=True, disable=as_json) as bar:  # fmt: skip
                task = bar.add_task("ingesting", total=len(wanted))

                def done(source_id: str, record: IngestRecord) -> None:
                    bar.update(task, advance=1, description=f"{source_id}: {record.status.value}")

                return await kb.ingest(wanted, done)

    records = run(go())
    if as_json:
        print_json([{"source": r.source_id, "status": r.status.value, "fetched": r.fetched,
                     "stored": r.stored, "merged": r.merged, "error": r.error}
                    for r in records])  # fmt: skip
        return
    if not records:
        console.print("no enabled source: imperium knowledge sources add ID KIND URL")
        return
    table = Table("source", "status", "fetched", "new", "merged", "error")
    for r in records:
        table.add_row(r.source_id, r.status.value, str(r.fetched), str(r.stored),
                      str(r.merged), escape(r.error or ""))  # fmt: skip
    console.print(table)
    if any(r.status.value == "failed" for r in records):
        raise typer.Exit(1)


@app.command("impact")
def impact(
    days: Annotated[float, typer.Option(help="Attempts finished in the last DAYS days.")] = 30.0,
    database: Database = None,
    as_json: Json = False,
) -> None:
    """Do attempts that used knowledge succeed more often? Per task type, with n."""

    async def go() -> list[dict[str, Any]]:
        async with knowledge_base(database) as kb:
            return [i.as_dict() for i in await kb.impact(kb.now() - days * 86_400)]

    rows = run(go())
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no attempt has used the knowledge base yet")
    for r in rows:
        console.print(escape(r["insight"]))
