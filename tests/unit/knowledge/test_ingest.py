"""Ingestion over the in-memory store with scripted connectors: duplicates merge (by URL,
content hash and near-identical text), the same answer twice stores nothing new, a failing
source is recorded and the others still ingest, scores follow their definitions."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from imperium.adapters.storage.memory.knowledge import MemoryKnowledgeStore
from imperium.domain.knowledge import (
    Document,
    FetchedItem,
    IngestStatus,
    Source,
    SourceKind,
    SourceState,
    Topic,
)
from imperium.services.knowledge.ingest import Ingester
from imperium.services.knowledge.ports import FetchOutcome

ARTICLE = " ".join(f"word{i}" for i in range(200))


class Clock:
    def now(self) -> float:
        return 1000.0

    def monotonic(self) -> float:
        return 0.0


class Scripted:
    def __init__(self, items: list[FetchedItem], fail: Exception | None = None) -> None:
        self.items = items
        self.fail = fail
        self.calls: list[tuple[str, list[str], int]] = []

    async def fetch(
        self, source: Source, state: SourceState, topics: Sequence[str], limit: int
    ) -> FetchOutcome:
        self.calls.append((source.id, list(topics), limit))
        if self.fail is not None:
            raise self.fail
        return FetchOutcome(IngestStatus.OK, SourceState(source.id, etag="e1"), list(self.items))


async def setup(
    feed: Scripted, other: Scripted | None = None
) -> tuple[MemoryKnowledgeStore, Ingester]:
    store = MemoryKnowledgeStore()
    await store.save_source(Source("feed", SourceKind.RSS, "https://blog.example/feed", trust=0.5))
    await store.save_source(Source("arx", SourceKind.ARXIV, "https://export.arxiv.org/api"))
    await store.save_source(Source("off", SourceKind.RSS, "https://x.example/f", enabled=False))
    await store.add_topic(Topic("asyncio tasks", None, 1.0))
    connectors = {SourceKind.RSS: feed, SourceKind.ARXIV: other or Scripted([])}
    return store, Ingester(store, connectors, Clock(), max_results=7)


async def test_same_answer_twice_stores_nothing_new() -> None:
    items = [FetchedItem("https://b/1", "Asyncio tasks", "<p>create tasks with asyncio</p>"),
             FetchedItem("https://b/2", "Pools", "connection pools for databases")]  # fmt: skip
    feed = Scripted(items)
    store, ingester = await setup(feed)
    first = await ingester.run()
    assert [(r.source_id, r.status, r.stored, r.merged) for r in first] == [
        ("arx", IngestStatus.OK, 0, 0), ("feed", IngestStatus.OK, 2, 0)]  # fmt: skip
    assert feed.calls == [("feed", ["asyncio tasks"], 7)]  # enabled sources, topics, the limit
    before = dict(store.documents)
    second = await ingester.run()
    assert (second[1].stored, second[1].merged) == (0, 2)
    assert store.documents == before
    assert (await store.get_state("feed")) == SourceState("feed", etag="e1")
    assert len(await store.list_ingests(10)) == 4
    stored = store.documents[1]
    assert stored.text == "create tasks with asyncio"
    assert stored.topic == "asyncio tasks"


async def test_copies_merge_by_hash_and_near_identical_text() -> None:
    edited = ARTICLE.replace("word50", "changed")
    feed = Scripted([
        FetchedItem("https://b/orig", "Article", ARTICLE),
        FetchedItem("https://mirror/copy", "article", ARTICLE.upper()),  # same words
        FetchedItem("https://mirror/edit", "Article", edited),  # one word changed
        FetchedItem("https://b/other", "Else", "entirely different text about gardens"),
        FetchedItem("https://b/empty", "Empty", "   "),
    ])  # fmt: skip
    store, ingester = await setup(feed)
    record = (await ingester.run(["feed"]))[0]
    assert (record.fetched, record.stored, record.merged) == (5, 2, 2)
    original = await store.find_document("https://b/orig", "")
    assert original is not None
    assert original.duplicates == 2


async def test_changed_content_at_the_same_url_replaces_the_text() -> None:
    feed = Scripted([FetchedItem("https://b/1", "Post", "first version of the post")])
    store, ingester = await setup(feed)
    await ingester.run(["feed"])
    feed.items = [FetchedItem("https://b/1", "Post", "second version, rewritten")]
    await ingester.run(["feed"])
    assert [d.text for d in store.documents.values()] == ["second version, rewritten"]


async def test_a_failing_source_is_recorded_and_the_others_ingest() -> None:
    feed = Scripted([FetchedItem("https://b/1", "Post", "text about asyncio tasks")])
    _store, ingester = await setup(feed, Scripted([], fail=RuntimeError("parser exploded")))
    records = {r.source_id: r for r in await ingester.run()}
    assert records["arx"].status is IngestStatus.FAILED
    assert records["arx"].error == "RuntimeError: parser exploded"
    assert records["feed"].stored == 1


async def test_scores_follow_their_definitions() -> None:
    feed = Scripted([
        FetchedItem("https://b/1", "Asyncio tasks", "how asyncio tasks are scheduled"),
        FetchedItem("https://b/2", "Gardening", "tomatoes and basil"),
    ])  # fmt: skip
    store, ingester = await setup(feed)
    await ingester.run(["feed"])
    on_topic, off_topic = store.documents[1], store.documents[2]
    assert on_topic.relevance == pytest.approx(1.0)
    assert off_topic.relevance == 0.0
    assert on_topic.novelty == 1.0  # nothing stored before it
    assert on_topic.learning_value == pytest.approx(1.0 * 1.0 * 0.5)  # x trust
    assert off_topic.learning_value == 0.0


async def test_the_routine_skips_without_sources_and_reports_failures() -> None:
    from imperium.services.knowledge.routine import ingest_routine
    from imperium.services.knowledge.service import KnowledgeService

    feed = Scripted([FetchedItem("https://b/1", "Post", "text about asyncio tasks")])
    store, ingester = await setup(feed, Scripted([], fail=RuntimeError("down")))
    routine = ingest_routine(KnowledgeService(store, ingester, Clock()), 1800.0)
    assert (routine.name, routine.interval) == ("internet_learning", 1800.0)
    assert await routine.action() == {"status": "partial", "sources": 2, "stored": 1,
                                      "merged": 0, "failed": ["arx"]}  # fmt: skip
    empty = MemoryKnowledgeStore()
    idle = ingest_routine(KnowledgeService(empty, Ingester(empty, {}, Clock()), Clock()), 60.0)
    assert (await idle.action())["status"] == "skipped"


async def test_items_that_cannot_be_stored_fail_their_source_and_keep_no_etag() -> None:
    """A store error while keeping one source's items fails that source only, and its new
    ETag is not saved (the items were not kept: the next ingest fetches them again)."""

    class Refusing(MemoryKnowledgeStore):
        async def insert_document(self, document: Document) -> int | None:
            if document.source_id == "arx":
                raise RuntimeError("value too long for type character varying(300)")
            return await super().insert_document(document)

    feed = Scripted([FetchedItem("https://b/1", "Post", "text about asyncio tasks")])
    arx = Scripted([FetchedItem("https://arxiv.org/abs/1", "Paper", "a paper on tasks")])
    store = Refusing()
    await store.save_source(Source("feed", SourceKind.RSS, "https://blog.example/feed"))
    await store.save_source(Source("arx", SourceKind.ARXIV, "https://export.arxiv.org/api"))
    ingester = Ingester(store, {SourceKind.RSS: feed, SourceKind.ARXIV: arx}, Clock())
    records = {r.source_id: r for r in await ingester.run()}
    assert records["arx"].status is IngestStatus.FAILED
    assert "could not be stored" in (records["arx"].error or "")
    assert records["feed"].stored == 1
    assert (await store.get_state("feed")) == SourceState("feed", etag="e1")
    kept = await store.get_state("arx")
    assert kept is not None
    assert kept.etag is None
    assert "could not be stored" in (kept.last_error or "")


async def test_the_duplicate_scan_runs_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The comparison with every stored signature (near duplicates, novelty) is work
    proportional to the whole base: it must not run on the event loop's thread."""
    import threading

    from imperium.services.knowledge import ingest

    threads: set[int] = set()
    real = ingest.similarity

    def watched(a: tuple[int, ...], b: tuple[int, ...]) -> float:
        threads.add(threading.get_ident())
        return real(a, b)

    monkeypatch.setattr(ingest, "similarity", watched)
    feed = Scripted(
        [FetchedItem(f"https://b/{i}", f"Post {i}", f"{ARTICLE} {i}") for i in range(3)]
    )
    _store, ingester = await setup(feed)
    await ingester.run(["feed"])
    assert threads
    assert threading.get_ident() not in threads
