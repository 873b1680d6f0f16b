"""``SqlKnowledgeStore``: the knowledge base's ``KnowledgeStore`` port — documents
(``internet_learning_results``), sources, topics, the ingestion log and knowledge uses.

Full-text search is the database's own: SQLite FTS5 ranked by its ``bm25()`` (title
weighted 2, text 1), PostgreSQL ``tsvector`` (GIN index) ranked by ``ts_rank_cd``. A query
matches documents holding any of its terms (OR), so ranking, not the filter, decides.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import sqlalchemy as sa

from imperium.adapters.storage.database import SqlArea
from imperium.adapters.storage.tables import (
    KNOWLEDGE_TSVECTOR,
    agent_task_executions,
    internet_learning_results,
    knowledge_ingests,
    knowledge_sources,
    knowledge_topics,
    knowledge_uses,
)
from imperium.domain.knowledge import (
    Document,
    IngestRecord,
    IngestStatus,
    KnowledgeUse,
    Source,
    SourceKind,
    SourceState,
    Topic,
)
from imperium.domain.knowledge_text import terms
from imperium.services.knowledge.ports import UsageOutcome

docs = internet_learning_results
_SAFE_TERM = re.compile(r"^[^\W_]+$")
_STATE_FIELDS = [f.name for f in dataclasses.fields(SourceState) if f.name != "source_id"]


class SqlKnowledgeStore(SqlArea):
    # ------------------------------------------------------------------ sources
    async def save_source(self, source: Source) -> None:
        row = _source_row(source)
        async with self._db.transaction() as conn:
            insert = self._db.insert(knowledge_sources).values(row)
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[knowledge_sources.c.id],
                    set_={k: insert.excluded[k] for k in row if k != "id"},
                )
            )

    async def get_source(self, source_id: str) -> Source | None:
        rows = await self._db.fetch(
            sa.select(knowledge_sources).where(knowledge_sources.c.id == source_id)
        )
        return _source(rows[0]) if rows else None

    async def list_sources(self) -> list[Source]:
        query = sa.select(knowledge_sources).order_by(knowledge_sources.c.id)
        return [_source(row) for row in await self._db.fetch(query)]

    async def delete_source(self, source_id: str) -> bool:
        async with self._db.transaction() as conn:
            gone = await conn.execute(
                sa.delete(knowledge_sources).where(knowledge_sources.c.id == source_id)
            )
            return gone.rowcount == 1

    async def get_state(self, source_id: str) -> SourceState | None:
        query = sa.select(knowledge_sources.c.state).where(knowledge_sources.c.id == source_id)
        rows = await self._db.fetch(query)
        if not rows:
            return None
        saved: dict[str, Any] = rows[0].state or {}
        kept: dict[str, Any] = {k: saved[k] for k in _STATE_FIELDS if k in saved}
        return SourceState(source_id, **kept)

    async def save_state(self, state: SourceState) -> None:
        values = {k: getattr(state, k) for k in _STATE_FIELDS}
        async with self._db.transaction() as conn:
            await conn.execute(
                sa.update(knowledge_sources)
                .where(knowledge_sources.c.id == state.source_id)
                .values(state=values)
            )

    # ------------------------------------------------------------------ topics
    async def add_topic(self, topic: Topic) -> bool:
        row = {"name": topic.name, "agent_id": topic.agent_id or "", "created_at": topic.created_at}
        async with self._db.transaction() as conn:
            added = await conn.execute(
                self._db.insert(knowledge_topics).values(row).on_conflict_do_nothing()
            )
            return added.rowcount == 1

    async def list_topics(self) -> list[Topic]:
        t = knowledge_topics
        rows = await self._db.fetch(sa.select(t).order_by(t.c.agent_id, t.c.name))
        return [Topic(r.name, r.agent_id or None, float(r.created_at)) for r in rows]

    async def remove_topic(self, name: str, agent_id: str | None) -> bool:
        t = knowledge_topics
        async with self._db.transaction() as conn:
            gone = await conn.execute(
                sa.delete(t).where(t.c.name == name, t.c.agent_id == (agent_id or ""))
            )
            return gone.rowcount == 1

    # ------------------------------------------------------------------ documents
    async def find_document(self, url: str, content_hash: str) -> Document | None:
        for condition in (docs.c.url == url, docs.c.content_hash == content_hash):
            rows = await self._db.fetch(
                sa.select(docs).where(condition).order_by(docs.c.id).limit(1)
            )
            if rows:
                return _document(rows[0])
        return None

    async def signatures(self) -> list[tuple[int, tuple[int, ...]]]:
        rows = await self._db.fetch(sa.select(docs.c.id, docs.c.signature))
        return [(row.id, tuple(row.signature)) for row in rows]

    async def insert_document(self, document: Document) -> int | None:
        """None when a document with its URL is stored (ON CONFLICT DO NOTHING: another
        process's ingest may have stored it since it was looked up)."""
        row = _document_row(document)
        row.pop("id")
        insert = (
            self._db.insert(docs).values(row).on_conflict_do_nothing(index_elements=[docs.c.url])
        )
        async with self._db.transaction() as conn:
            result = await conn.execute(insert.returning(docs.c.id))
            new_id = result.scalar_one_or_none()
            return None if new_id is None else int(new_id)

    async def update_document(self, document: Document) -> None:
        row = _document_row(document)
        async with self._db.transaction() as conn:
            await conn.execute(sa.update(docs).where(docs.c.id == row.pop("id")).values(row))

    async def get_document(self, document_id: int) -> Document | None:
        rows = await self._db.fetch(sa.select(docs).where(docs.c.id == document_id))
        return _document(rows[0]) if rows else None

    async def list_documents(
        self, limit: int, offset: int = 0, topic: str | None = None
    ) -> list[Document]:
        query = sa.select(docs).order_by(docs.c.fetched_at.desc(), docs.c.id.desc())
        if topic is not None:
            query = query.where(docs.c.topic == topic)
        return [_document(r) for r in await self._db.fetch(query.limit(limit).offset(offset))]

    async def count_documents(self) -> int:
        return int(await self._db.scalar(sa.select(sa.func.count()).select_from(docs)))

    async def search(
        self, query: str, limit: int, topic: str | None = None
    ) -> list[tuple[Document, float]]:
        wanted = [t for t in dict.fromkeys(terms(query)) if _SAFE_TERM.match(t)]
        if not wanted or limit <= 0:
            return []
        if self._db.dialect == "postgresql":
            statement = _postgres_search(wanted, limit, topic)
        else:
            statement = _sqlite_search(wanted, limit, topic)
        rows = await self._db.fetch(statement)
        return [(_document(row), float(row.rank)) for row in rows]

    # ------------------------------------------------------------------ ingestion log
    async def log_ingest(self, record: IngestRecord) -> None:
        row = dataclasses.asdict(record)
        row.pop("id")
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(knowledge_ingests).values(row))

    async def list_ingests(self, limit: int, source_id: str | None = None) -> list[IngestRecord]:
        i = knowledge_ingests
        query = sa.select(i).order_by(i.c.finished_at.desc(), i.c.id.desc()).limit(limit)
        if source_id is not None:
            query = query.where(i.c.source_id == source_id)
        return [_ingest(row) for row in await self._db.fetch(query)]

    # ------------------------------------------------------------------ uses
    async def record_use(self, use: KnowledgeUse) -> None:
        row = dataclasses.asdict(use)
        row["document_ids"] = list(use.document_ids)
        async with self._db.transaction() as conn:
            await conn.execute(sa.insert(knowledge_uses).values(row))

    async def uses_for(self, task_id: str) -> list[KnowledgeUse]:
        u = knowledge_uses
        query = sa.select(u).where(u.c.task_id == task_id).order_by(u.c.used_at, u.c.id)
        return [_use(row) for row in await self._db.fetch(query)]

    async def usage_outcomes(self, since: float) -> list[UsageOutcome]:
        e, u = agent_task_executions, knowledge_uses
        used = (
            sa.exists().where(u.c.task_id == e.c.task_id, u.c.attempt == e.c.attempt).label("used")
        )
        query = (
            sa.select(
                e.c.task_type,
                used,
                sa.func.count().label("attempts"),
                sa.func.sum(sa.case((e.c.outcome == "succeeded", 1), else_=0)).label("ok"),
            )
            .where(e.c.finished_at >= since)
            .group_by(e.c.task_type, used)
            .order_by(e.c.task_type)
        )
        rows = await self._db.fetch(query)
        return [
            UsageOutcome(row.task_type, bool(row.used), int(row.attempts), int(row.ok or 0))
            for row in rows
        ]


def _sqlite_search(wanted: list[str], limit: int, topic: str | None) -> sa.Select[Any]:
    fts = sa.table("knowledge_fts", sa.column("rowid"))
    match = " OR ".join(f'"{t}"' for t in wanted)
    # bm25() is lower for better matches: negated, higher is better everywhere
    rank = (-sa.func.bm25(sa.literal_column("knowledge_fts"), 2.0, 1.0)).label("rank")
    query = (
        sa.select(docs, rank)
        .join(fts, fts.c.rowid == docs.c.id)
        .where(sa.literal_column("knowledge_fts").op("MATCH")(match))
        .order_by(rank.desc(), docs.c.id)
        .limit(limit)
    )
    return query.where(docs.c.topic == topic) if topic is not None else query


def _postgres_search(wanted: list[str], limit: int, topic: str | None) -> sa.Select[Any]:
    vector: sa.ColumnElement[Any] = sa.literal_column(f"({KNOWLEDGE_TSVECTOR})")
    tsquery = sa.func.to_tsquery(sa.literal_column("'english'::regconfig"), " | ".join(wanted))
    rank = sa.func.ts_rank_cd(vector, tsquery).label("rank")
    query = (
        sa.select(docs, rank)
        .where(vector.op("@@")(tsquery))
        .order_by(rank.desc(), docs.c.id)
        .limit(limit)
    )
    return query.where(docs.c.topic == topic) if topic is not None else query


def _source_row(source: Source) -> dict[str, Any]:
    return {
        "id": source.id,
        "kind": source.kind.value,
        "url": source.url,
        "trust": source.trust,
        "enabled": source.enabled,
        "allowed_domains": list(source.allowed_domains),
        "daily_quota": source.daily_quota,
        "min_interval": source.min_interval,
        "params": source.params,
        "created_at": source.created_at,
    }


def _source(row: Any) -> Source:
    return Source(
        id=row.id,
        kind=SourceKind(row.kind),
        url=row.url,
        trust=float(row.trust),
        enabled=bool(row.enabled),
        allowed_domains=tuple(row.allowed_domains),
        daily_quota=row.daily_quota,
        min_interval=float(row.min_interval),
        params=dict(row.params),
        created_at=float(row.created_at),
    )


def _document_row(document: Document) -> dict[str, Any]:
    row = dataclasses.asdict(document)
    row["signature"] = list(document.signature)
    return row


def _document(row: Any) -> Document:
    return Document(
        id=int(row.id),
        url=row.url,
        source_id=row.source_id,
        title=row.title,
        text=row.text,
        content_hash=row.content_hash,
        signature=tuple(row.signature),
        fetched_at=float(row.fetched_at),
        topic=row.topic,
        author=row.author,
        published_at=None if row.published_at is None else float(row.published_at),
        relevance=float(row.relevance),
        novelty=float(row.novelty),
        learning_value=float(row.learning_value),
        duplicates=int(row.duplicates),
    )


def _ingest(row: Any) -> IngestRecord:
    return IngestRecord(
        id=int(row.id),
        source_id=row.source_id,
        started_at=float(row.started_at),
        finished_at=float(row.finished_at),
        status=IngestStatus(row.status),
        fetched=int(row.fetched),
        stored=int(row.stored),
        merged=int(row.merged),
        error=row.error,
    )


def _use(row: Any) -> KnowledgeUse:
    return KnowledgeUse(
        task_id=row.task_id,
        attempt=int(row.attempt),
        agent_id=row.agent_id,
        task_type=row.task_type,
        query=row.query,
        document_ids=tuple(int(i) for i in row.document_ids),
        used_at=float(row.used_at),
    )
