"""The knowledge store on memory, SQLite and PostgreSQL: sources with their state, topics,
documents found by URL or content hash, full-text search ranked by the database, the
ingestion log, and attempts' knowledge uses joined to their outcomes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from imperium.adapters.storage.knowledge import SqlKnowledgeStore
from imperium.adapters.storage.memory import MemoryStore
from imperium.adapters.storage.memory.knowledge import MemoryKnowledgeStore
from imperium.adapters.storage.sql import SqlStore
from imperium.domain.knowledge import (
    Document,
    FetchedItem,
    IngestRecord,
    IngestStatus,
    KnowledgeUse,
    Source,
    SourceKind,
    SourceState,
    Topic,
)
from imperium.domain.knowledge_text import content_hash, signature
from imperium.domain.models import Execution
from imperium.domain.states import Outcome
from imperium.ports import Store
from imperium.services.knowledge.ingest import Ingester
from imperium.services.knowledge.ports import FetchOutcome, UsageOutcome


def knowledge_store(store: Store) -> SqlKnowledgeStore | MemoryKnowledgeStore:
    if isinstance(store, SqlStore):
        return SqlKnowledgeStore(store.database)
    assert isinstance(store, MemoryStore)
    return MemoryKnowledgeStore(store.state)


def document(url: str, title: str, text: str, topic: str | None = "python") -> Document:
    return Document(
        url=url, source_id="blog", title=title, text=text, content_hash=content_hash(text),
        signature=signature(text), fetched_at=100.5, topic=topic, author="Ada",
        published_at=50.25, relevance=0.5, novelty=0.75, learning_value=0.1875, duplicates=2,
    )  # fmt: skip


async def test_sources_round_trip_with_their_state(store: Store) -> None:
    kb = knowledge_store(store)
    source = Source(
        "se", SourceKind.STACKEXCHANGE, "https://api.stackexchange.com/2.3", trust=0.8,
        enabled=False, allowed_domains=("stackoverflow.com",), daily_quota=300,
        min_interval=2.5, params={"tags": ["python"], "site": "stackoverflow"}, created_at=9.5,
    )  # fmt: skip
    await kb.save_source(source)
    assert await kb.get_source("se") == source
    assert await kb.get_state("se") == SourceState("se")
    state = SourceState(
        "se", etag='"abc"', last_modified="Mon, 07 Dec 2026 00:00:00 GMT", quota_day=20000,
        quota_used=7, backoff_until=1e9 + 0.5, api_quota_remaining=293, last_run_at=12.0,
        last_error="HTTP 500",
    )  # fmt: skip
    await kb.save_state(state)
    changed = dataclasses.replace(source, trust=0.9)
    await kb.save_source(changed)  # replacing keeps the state
    assert await kb.get_state("se") == state
    assert await kb.list_sources() == [changed]
    assert await kb.delete_source("se") is True
    assert await kb.delete_source("se") is False
    assert await kb.get_state("se") is None


async def test_topics_global_and_per_agent(store: Store) -> None:
    kb = knowledge_store(store)
    assert await kb.add_topic(Topic("python", None, 1.0)) is True
    assert await kb.add_topic(Topic("python", None, 2.0)) is False
    assert await kb.add_topic(Topic("python", "writer", 3.0)) is True
    assert await kb.list_topics() == [Topic("python", None, 1.0), Topic("python", "writer", 3.0)]
    assert await kb.remove_topic("python", "writer") is True
    assert await kb.remove_topic("python", "writer") is False
    assert await kb.list_topics() == [Topic("python", None, 1.0)]


async def test_documents_found_by_url_then_hash_and_updated(store: Store) -> None:
    kb = knowledge_store(store)
    first = document("https://a/1", "Asyncio", "event loops and tasks in asyncio")
    first_id = await kb.insert_document(first)
    stored = await kb.get_document(first_id)
    assert stored == dataclasses.replace(first, id=first_id)
    assert await kb.find_document("https://a/1", "none") == stored
    assert await kb.find_document("https://other", first.content_hash) == stored
    assert await kb.find_document("https://other", "none") is None
    assert stored is not None
    await kb.update_document(dataclasses.replace(stored, duplicates=3, text="changed text"))
    again = await kb.get_document(first_id)
    assert again is not None
    assert again.duplicates == 3
    assert again.text == "changed text"
    assert await kb.signatures() == [(first_id, first.signature)]
    assert await kb.count_documents() == 1


async def test_full_text_search_ranks_by_the_database(store: Store) -> None:
    kb = knowledge_store(store)
    texts = {
        "https://a/pool": ("Connection pools", "A pool of database connections for postgres"),
        "https://a/loop": ("Asyncio event loop", "The asyncio event loop runs coroutines"),
        "https://a/both": ("Notes", "asyncio and the event loop, briefly; asyncio again"),
        "https://a/other": ("Gardening", "tomatoes need sun"),
    }
    ids = {}
    for url, (title, text) in texts.items():
        ids[url] = await kb.insert_document(document(url, title, text, topic="dev"))
    found = await kb.search("asyncio event loop", 10)
    urls = [doc.url for doc, _ in found]
    assert urls[0] == "https://a/loop"  # every term, and in the title
    assert set(urls) == {"https://a/loop", "https://a/both"}
    assert found[0][1] > found[1][1]
    assert [d.url for d, _ in await kb.search("postgres pools", 10)] == ["https://a/pool"]
    assert await kb.search("asyncio", 10, topic="other") == []
    assert await kb.search("'; DROP TABLE x; --", 5) == []
    assert await kb.search("the of and", 5) == []  # stop words only


async def test_search_follows_updates(store: Store) -> None:
    kb = knowledge_store(store)
    doc_id = await kb.insert_document(document("https://a/1", "Old", "kubernetes operators"))
    stored = await kb.get_document(doc_id)
    assert stored is not None
    await kb.update_document(dataclasses.replace(stored, title="New", text="terraform modules"))
    assert await kb.search("kubernetes", 5) == []
    assert [d.id for d, _ in await kb.search("terraform", 5)] == [doc_id]


async def test_ingestion_log_newest_first(store: Store) -> None:
    kb = knowledge_store(store)
    one = IngestRecord("a", 1.0, 2.0, IngestStatus.OK, fetched=3, stored=2, merged=1)
    two = IngestRecord("b", 3.0, 4.0, IngestStatus.FAILED, error="HTTP 500 from x")
    await kb.log_ingest(one)
    await kb.log_ingest(two)
    logged = await kb.list_ingests(10)
    assert [dataclasses.replace(r, id=None) for r in logged] == [two, one]
    assert [r.source_id for r in await kb.list_ingests(10, source_id="a")] == ["a"]


async def test_usage_outcomes_split_attempts_by_knowledge_use(store: Store) -> None:
    kb = knowledge_store(store)

    def run(task: str, attempt: int, outcome: Outcome, task_type: str = "answer") -> Execution:
        return Execution(task, attempt, "writer", task_type, 1.0, 10.0, 20.0, outcome, attempt)

    await store.import_executions([
        run("t1", 1, Outcome.FAILED), run("t1", 2, Outcome.SUCCEEDED),
        run("t2", 1, Outcome.SUCCEEDED), run("t3", 1, Outcome.FAILED),
        run("t4", 1, Outcome.SUCCEEDED, "other"),
    ])  # fmt: skip
    for task, attempt in (("t1", 2), ("t3", 1), ("t3", 1)):  # two searches in one attempt
        await kb.record_use(KnowledgeUse(task, attempt, "writer", "answer", "q", (1, 2), 15.0))
    assert await kb.usage_outcomes(0.0) == [
        UsageOutcome("answer", False, 2, 1),
        UsageOutcome("answer", True, 2, 1),
        UsageOutcome("other", False, 1, 1),
    ]
    assert await kb.usage_outcomes(25.0) == []
    assert await kb.uses_for("t1") == [KnowledgeUse("t1", 2, "writer", "answer", "q", (1, 2), 15.0)]


async def test_search_uses_the_full_text_index(store: Store) -> None:
    """PostgreSQL answers through the GIN index (sequential scans off), SQLite through the
    FTS5 table: a search that stopped using them would scan every document."""
    if not isinstance(store, SqlStore):
        return
    from imperium.adapters.storage.knowledge import _postgres_search, _sqlite_search

    db = store.database
    if db.dialect == "postgresql":
        query, explain = _postgres_search(["asyncio"], 5, None), "EXPLAIN "
        expected = "ix_internet_learning_results_search"
    else:
        query, explain = _sqlite_search(["asyncio"], 5, None), "EXPLAIN QUERY PLAN "
        expected = "VIRTUAL TABLE INDEX"
    sql = str(query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.exec_driver_sql("SET enable_seqscan = off")
        plan = " ".join(str(row) for row in (await conn.exec_driver_sql(explain + sql)).all())
    assert expected in plan, plan


async def test_a_url_stored_already_is_not_inserted_again(store: Store) -> None:
    kb = knowledge_store(store)
    first = await kb.insert_document(document("https://b/1", "One", "first text"))
    assert first is not None
    assert await kb.insert_document(document("https://b/1", "Two", "other text")) is None
    assert await kb.count_documents() == 1
    assert (await kb.get_document(first)).title == "One"  # type: ignore[union-attr]


class _Feed:
    """A connector answering ``items`` with an ETag."""

    def __init__(self, items: list[FetchedItem]) -> None:
        self.items = items

    async def fetch(
        self, source: Source, state: SourceState, topics: Sequence[str], limit: int
    ) -> FetchOutcome:
        await asyncio.sleep(0)
        return FetchOutcome(IngestStatus.OK, SourceState(source.id, etag="e1"), list(self.items))


class _Clock:
    def now(self) -> float:
        return 1000.0

    def monotonic(self) -> float:
        return 0.0


async def test_concurrent_ingests_and_oversized_fields_store_each_document_once(
    store: Store,
) -> None:
    """Two ingests at once in this process (serialized) and one from another ingester (as
    another process would: the database's ON CONFLICT settles it), with an author, a topic
    and a URL longer than their columns and a NUL byte: no error, each document once."""
    kb = knowledge_store(store)
    await kb.save_source(Source("blog", SourceKind.RSS, "https://blog.example/feed"))
    items = [
        FetchedItem(
            f"https://blog.example/{i}",
            f"Post {i}",
            f"text\x00 number {i} " * 20,
            author="A" * 500,
            topic="t" * 300,
        )
        for i in range(6)
    ] + [FetchedItem("https://blog.example/" + "x" * 2100, "Long", "a url too long to store")]
    connectors = {SourceKind.RSS: _Feed(items)}
    one, other = (Ingester(kb, connectors, _Clock()) for _ in range(2))  # type: ignore[arg-type]
    runs = await asyncio.gather(one.run(), one.run(), other.run(), other.run())
    assert [r.status for run in runs for r in run] == [IngestStatus.OK] * 4
    assert sum(r.stored for run in runs for r in run) == 6
    assert await kb.count_documents() == 6
    stored = await kb.list_documents(10)
    assert {len(d.author or "") for d in stored} == {300}
    assert {len(d.topic or "") for d in stored} == {200}
    assert all("\x00" not in d.text for d in stored)
    assert (await kb.get_state("blog")) == SourceState("blog", etag="e1")
