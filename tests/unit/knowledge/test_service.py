"""``KnowledgeService`` over the in-memory store: the source registry refuses what cannot
be fetched safely, topics, search (and hybrid re-ranking with an embedder), what an
attempt's searches record, and the learning-impact insight with its sample sizes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from imperium.adapters.storage.memory.knowledge import MemoryKnowledgeStore
from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.knowledge import Document, Source, SourceKind
from imperium.domain.knowledge_text import content_hash, signature
from imperium.services.knowledge.ingest import Ingester
from imperium.services.knowledge.ports import UsageOutcome
from imperium.services.knowledge.service import (
    AttemptRef,
    KnowledgeLender,
    KnowledgeService,
    impact_of,
)


class Clock:
    def now(self) -> float:
        return 42.0

    def monotonic(self) -> float:
        return 0.0


def service(embedder: object = None) -> KnowledgeService:
    store = MemoryKnowledgeStore()
    return KnowledgeService(store, Ingester(store, {}, Clock()), Clock(), embedder)  # type: ignore[arg-type]


async def add_docs(kb: KnowledgeService, *texts: tuple[str, str]) -> None:
    for n, (title, text) in enumerate(texts):
        await kb.store.insert_document(Document(
            url=f"https://d/{n}", source_id="s", title=title, text=text,
            content_hash=content_hash(text), signature=signature(text), fetched_at=1.0,
        ))  # fmt: skip


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (Source("Bad Id", SourceKind.RSS, "https://x/f"), "source id"),
        (Source("a", SourceKind.RSS, "https://x/f", trust=1.5), "trust"),
        (Source("a", SourceKind.GITHUB, "ftp://x"), "url must be"),
        (Source("a", SourceKind.RSS, "https://x/f", daily_quota=0), "daily_quota"),
        (Source("a", SourceKind.RSS, "https://x/f", allowed_domains=("a/b",)), "bare host"),
    ],
)
async def test_sources_that_cannot_be_fetched_safely_are_refused(
    source: Source, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        await service().add_source(source)


async def test_sources_add_once_and_remove() -> None:
    kb = service()
    added = await kb.add_source(Source("blog", SourceKind.RSS, "https://blog.example/feed"))
    assert added.created_at == 42.0
    with pytest.raises(ConflictError):
        await kb.add_source(Source("blog", SourceKind.RSS, "https://blog.example/feed"))
    await kb.remove_source("blog")
    with pytest.raises(NotFoundError):
        await kb.remove_source("blog")
    with pytest.raises(NotFoundError):
        await kb.ingest(["blog"])


async def test_topics_set_per_agent() -> None:
    kb = service()
    await kb.add_topic("python")
    await kb.set_topics(["sql", "  query   plans "], agent_id="dba")
    await kb.set_topics(["sql"], agent_id="dba")
    assert [(t.name, t.agent_id) for t in await kb.store.list_topics()] == [
        ("python", None), ("sql", "dba")]  # fmt: skip
    with pytest.raises(ValidationError):
        await kb.add_topic("   ")
    with pytest.raises(NotFoundError):
        await kb.remove_topic("nope", "dba")


async def test_search_checks_its_input_and_ranks() -> None:
    kb = service()
    await add_docs(kb, ("Asyncio", "asyncio event loop tasks"), ("Pools", "database pools"))
    hits = await kb.search("asyncio loop", 5)
    assert [h.url for h in hits] == ["https://d/0"]
    assert hits[0].title == "Asyncio"
    assert hits[0].score > 0
    with pytest.raises(ValidationError):
        await kb.search("  ", 5)
    with pytest.raises(ValidationError):
        await kb.search("x", 0)


class Embedder:
    """Puts documents about pools first, whatever the keywords say; notes the threads it
    ran on."""

    name = "fake"

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.threads.add(threading.get_ident())
        return [[1.0, 0.0] if "pool" in t.lower() else [0.0, 1.0] for t in texts]


async def test_hybrid_fuses_keyword_and_embedding_ranks() -> None:
    kb = service(Embedder())
    await add_docs(kb, ("Python pool guide", "python python python"), ("Pool", "python pools"))
    hits = await kb.search("pool python", 2)
    assert {h.url for h in hits} == {"https://d/0", "https://d/1"}


async def test_the_embedder_runs_off_the_event_loop() -> None:
    embedder = Embedder()
    kb = service(embedder)
    await add_docs(kb, ("Python pool guide", "python python python"), ("Pool", "python pools"))
    await asyncio.gather(*(kb.search("pool python", 2) for _ in range(3)))
    assert embedder.threads
    assert threading.get_ident() not in embedder.threads  # the loop's thread never embeds


async def test_an_attempts_searches_are_recorded() -> None:
    kb = service()
    await add_docs(kb, ("Asyncio", "asyncio event loop tasks"))

    class Ctx:
        task_id, attempt, agent_id, type = "t1", 2, "writer", "answer"

    hits = await KnowledgeLender(kb).for_attempt(Ctx()).search("asyncio", 3)
    uses = await kb.store.uses_for("t1")
    assert [(u.attempt, u.agent_id, u.task_type, u.query, u.document_ids) for u in uses] == [
        (2, "writer", "answer", "asyncio", tuple(h.document_id for h in hits))]  # fmt: skip
    await kb.search_for_attempt("nothing matches", 3, AttemptRef("t2", 1))
    assert (await kb.store.uses_for("t2"))[0].document_ids == ()


def test_impact_compares_rates_only_with_enough_attempts() -> None:
    rows = [
        UsageOutcome("answer", True, 20, 15), UsageOutcome("answer", False, 40, 20),
        UsageOutcome("review", True, 3, 3), UsageOutcome("review", False, 50, 25),
        UsageOutcome("never", False, 30, 10),
    ]  # fmt: skip
    answer, review = impact_of(rows)
    assert answer.insight == (
        "answer: attempts that used knowledge succeed 75% vs 50% without (n=20 vs 40)"
    )
    assert review.insight.startswith("review: insufficient data (n=3 with knowledge, 50 without")
    shown = answer.as_dict()
    assert shown["with_knowledge"]["success_rate"] == 0.75
    low, high = shown["with_knowledge"]["interval_95"]
    assert 0 <= low < 0.75 < high <= 1


def test_ctx_knowledge_says_where_none_is_lent() -> None:
    from imperium.agents.base import TaskContext, TaskFailed

    ctx = TaskContext("t1", "answer", None, 1, "ray-agent")
    with pytest.raises(TaskFailed) as raised:
        ctx.knowledge  # noqa: B018 - the property is the test
    assert raised.value.kind == "knowledge_unavailable"
    assert not raised.value.retryable


def test_impact_insights_only_with_enough_attempts() -> None:
    from imperium.domain.learning import InsightType
    from imperium.services.knowledge.service import insight_of

    answer, review = impact_of([
        UsageOutcome("answer", True, 20, 15), UsageOutcome("answer", False, 40, 20),
        UsageOutcome("review", True, 3, 3), UsageOutcome("review", False, 50, 25),
    ])  # fmt: skip
    assert answer.comparable
    assert not review.comparable
    insight = insight_of(answer, 99.0)
    assert insight.insight_type is InsightType.KNOWLEDGE
    assert insight.sample_size == 60
    assert insight.created_at == 99.0
    # 75% of 20 vs 50% of 40: z = 1.85, two-sided p = 0.064
    assert insight.confidence == pytest.approx(0.936, abs=0.002)
