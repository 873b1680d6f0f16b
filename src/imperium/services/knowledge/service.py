"""``KnowledgeService``: the knowledge base's use cases — the trusted-source registry,
topics, search (keyword, and hybrid when an embedder is installed), what attempts used,
and whether using knowledge goes with succeeding ("learning impact")."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imperium.domain.errors import ConflictError, NotFoundError, ValidationError
from imperium.domain.knowledge import (
    Document,
    FetchedItem,
    IngestRecord,
    KnowledgeHit,
    KnowledgeUse,
    Source,
    SourceKind,
    Topic,
    check_source,
)
from imperium.domain.knowledge_text import snippet
from imperium.domain.learning import Insight, InsightType
from imperium.domain.llm import DEFAULT_KEY_ENVS
from imperium.domain.retrieval import reciprocal_rank_fusion
from imperium.domain.stats import two_proportion_z, two_sided_p, wilson_interval
from imperium.ports import Clock
from imperium.services.knowledge.ingest import Ingester, Progress, Tally
from imperium.services.knowledge.ports import Embedder, KnowledgeStore, UsageOutcome

log = logging.getLogger(__name__)

MAX_K = 50
MIN_SAMPLE = 10
"""Attempts needed on each side (with and without knowledge) before a rate is compared."""
IMPACT_DAYS = 30.0
"""The window a learning cycle compares attempts over."""
CANDIDATES = 50
"""Keyword hits re-ranked by embeddings in a hybrid search."""
VECTOR_CACHE = 20_000
"""Documents' embeddings kept in memory (about 1.5 KB each as floats)."""


@dataclass(frozen=True, slots=True)
class Impact:
    """Per task type: success with and without knowledge, or why it cannot be said."""

    task_type: str
    with_knowledge: tuple[int, int]
    """(succeeded, attempts)"""
    without_knowledge: tuple[int, int]
    insight: str

    @property
    def comparable(self) -> bool:
        return min(self.with_knowledge[1], self.without_knowledge[1]) >= MIN_SAMPLE

    def as_dict(self) -> dict[str, Any]:
        def rate(pair: tuple[int, int]) -> dict[str, Any]:
            ok, n = pair
            low, high = wilson_interval(ok, n) if n else (None, None)
            return {"succeeded": ok, "attempts": n, "success_rate": ok / n if n else None,
                    "interval_95": [low, high] if n else None}  # fmt: skip

        return {
            "task_type": self.task_type,
            "with_knowledge": rate(self.with_knowledge),
            "without_knowledge": rate(self.without_knowledge),
            "insight": self.insight,
        }


class KnowledgeService:
    def __init__(
        self,
        store: KnowledgeStore,
        ingester: Ingester,
        clock: Clock,
        embedder: Embedder | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
        default_urls: Mapping[SourceKind, str] | None = None,
        key_envs: str = DEFAULT_KEY_ENVS,
        local_refusal: Callable[[str], str | None] | None = None,
    ) -> None:
        self._local_refusal = local_refusal
        """Why a local path may not be a source (outside the file roots...), or None."""
        self.default_urls = dict(default_urls or {})
        """Base URLs of the public APIs, for a source added without one; a source's API
        key or token (``params.token_env``/``key_env``) is sent only to their hosts."""
        self.key_envs = key_envs
        """IMPERIUM_MODEL_KEY_ENVS: the variables a source may name for its key or token."""
        self.store = store
        self.ingester = ingester
        self._clock = clock
        self.embedder = embedder
        self._on_close = on_close
        self._vectors: dict[str, list[float]] = {}
        self._vectors_lock = threading.Lock()

    def now(self) -> float:
        return self._clock.now()

    async def close(self) -> None:
        """Close the connectors' web client."""
        if self._on_close is not None:
            await self._on_close()

    # ------------------------------------------------------------------ sources
    async def add_source(self, source: Source, *, replace: bool = False) -> Source:
        if not source.url and source.kind in self.default_urls:
            source = dataclasses.replace(source, url=self.default_urls[source.kind])
        default = self.default_urls.get(source.kind)
        check_source(source, self.key_envs, urlsplit(default).hostname if default else None)
        if self._local_refusal is not None and source.kind in (SourceKind.FILES, SourceKind.RSS):
            refusal = self._local_refusal(source.url)
            if refusal is not None:
                raise ValidationError(f"source {source.id}: {refusal}")
        if not replace and await self.store.get_source(source.id) is not None:
            raise ConflictError(
                f"source {source.id} already exists; remove it first or pick another id"
            )
        if not source.created_at:
            source = dataclasses.replace(source, created_at=self._clock.now())
        await self.store.save_source(source)
        return source

    async def source(self, source_id: str) -> Source:
        found = await self.store.get_source(source_id)
        if found is None:
            raise NotFoundError(f"no source {source_id}; see the list of trusted sources")
        return found

    async def remove_source(self, source_id: str) -> None:
        if not await self.store.delete_source(source_id):
            raise NotFoundError(f"no source {source_id}")

    # ------------------------------------------------------------------ topics
    async def add_topic(self, name: str, agent_id: str | None = None) -> Topic:
        name = " ".join(name.split())
        if not name or len(name) > 200:
            raise ValidationError("a topic is 1-200 characters, e.g. 'python asyncio'")
        topic = Topic(name, agent_id or None, self._clock.now())
        await self.store.add_topic(topic)
        return topic

    async def remove_topic(self, name: str, agent_id: str | None = None) -> None:
        if not await self.store.remove_topic(" ".join(name.split()), agent_id or None):
            owner = f"agent {agent_id}" if agent_id else "global"
            raise NotFoundError(f"no {owner} topic {name!r}")

    async def set_topics(self, names: Sequence[str], agent_id: str | None = None) -> list[Topic]:
        """Replace the global topics (or one agent's) with ``names``."""
        for topic in await self.store.list_topics():
            if topic.agent_id == (agent_id or None) and topic.name not in names:
                await self.store.remove_topic(topic.name, topic.agent_id)
        return [await self.add_topic(n, agent_id) for n in names]

    # ------------------------------------------------------------------ ingest
    async def ingest(
        self,
        source_ids: Sequence[str] | None = None,
        progress: Progress | None = None,
        topics: Sequence[str] | None = None,
    ) -> list[IngestRecord]:
        if source_ids is not None:
            for source_id in source_ids:
                await self.source(source_id)  # 404 for an unknown one
        return await self.ingester.run(source_ids, progress, topics)

    async def agent_topics(self, agent_id: str) -> list[str]:
        return sorted(t.name for t in await self.store.list_topics() if t.agent_id == agent_id)

    async def add_result(self, source_id: str, item: FetchedItem) -> Tally:
        """A result found elsewhere (the seed's ``persistence/internet-learning-result``),
        kept like an ingested item; its source's trust when registered, else 0 (so an
        unregistered source adds no learning value)."""
        source = await self.store.get_source(source_id) or Source(
            source_id, SourceKind.FILES, "", trust=0.0
        )
        topics = sorted({t.name for t in await self.store.list_topics()})
        return await self.ingester.keep_items(source, [item], topics)

    # ------------------------------------------------------------------ search
    async def search(self, query: str, k: int = 5, topic: str | None = None) -> list[KnowledgeHit]:
        """The ``k`` best documents for ``query``: keyword (the database's full-text
        rank), re-ranked with embeddings by reciprocal rank fusion when an embedder is
        configured."""
        if not query.strip():
            raise ValidationError("the search query is empty")
        if not 1 <= k <= MAX_K:
            raise ValidationError(f"k must be between 1 and {MAX_K}, got {k}")
        found = await self.store.search(query, max(k, CANDIDATES) if self.embedder else k, topic)
        if self.embedder is not None and len(found) > 1:  # the model runs off the event loop
            found = await asyncio.to_thread(self._hybrid, query, found)
        return [_hit(doc, score, query) for doc, score in found[:k]]

    def _hybrid(
        self, query: str, found: list[tuple[Document, float]]
    ) -> list[tuple[Document, float]]:
        assert self.embedder is not None
        [wanted] = self.embedder.embed([query])
        vectors = self._document_vectors([d for d, _ in found])
        cosine = [sum(a * b for a, b in zip(wanted, v, strict=True)) for v in vectors]
        keyword = [str(i) for i in range(len(found))]
        semantic = sorted(keyword, key=lambda i: -cosine[int(i)])
        fused = reciprocal_rank_fusion([keyword, semantic])
        return [(found[int(i)][0], cosine[int(i)]) for i in fused]

    def _document_vectors(self, docs: list[Document]) -> list[list[float]]:
        """Documents' embeddings, computed once per content (a bounded cache shared by the
        searches running in threads: changed under a lock, never read for the answer)."""
        assert self.embedder is not None
        with self._vectors_lock:
            known = {d.content_hash: self._vectors[d.content_hash]
                     for d in docs if d.content_hash in self._vectors}  # fmt: skip
        missing = [d for d in docs if d.content_hash not in known]
        if missing:
            texts = [f"{d.title}. {d.text[:1000]}" for d in missing]
            computed = dict(
                zip((d.content_hash for d in missing), self.embedder.embed(texts), strict=True)
            )
            known.update(computed)
            with self._vectors_lock:
                for digest, vector in computed.items():
                    if len(self._vectors) >= VECTOR_CACHE:
                        self._vectors.pop(next(iter(self._vectors)))
                    self._vectors[digest] = vector
        return [known[d.content_hash] for d in docs]

    async def search_for_attempt(
        self, query: str, k: int, attempt: AttemptRef, topic: str | None = None
    ) -> list[KnowledgeHit]:
        """A search by an agent during an attempt: the documents it got are recorded."""
        hits = await self.search(query, k, topic)
        use = KnowledgeUse(
            attempt.task_id, attempt.attempt, attempt.agent_id, attempt.task_type, query,
            tuple(h.document_id for h in hits), self._clock.now(),
        )  # fmt: skip
        await self.store.record_use(use)
        return hits

    # ------------------------------------------------------------------ impact
    async def impact(self, since: float = 0.0) -> list[Impact]:
        return impact_of(await self.store.usage_outcomes(since))

    async def impact_insights(self, now: float) -> list[Insight]:
        """The impact as learning insights (for learning cycles), over the last
        ``IMPACT_DAYS``: only task types with ``MIN_SAMPLE`` attempts on each side."""
        since = now - IMPACT_DAYS * 86_400
        return [insight_of(i, now) for i in await self.impact(since) if i.comparable]


@dataclass(frozen=True, slots=True)
class AttemptRef:
    task_id: str
    attempt: int
    agent_id: str | None = None
    task_type: str | None = None


class AttemptKnowledge:
    """``ctx.knowledge`` for one attempt: ``await ctx.knowledge.search(query, k)``."""

    def __init__(self, service: KnowledgeService, attempt: AttemptRef) -> None:
        self._service = service
        self._attempt = attempt

    async def search(self, query: str, k: int = 5, topic: str | None = None) -> list[KnowledgeHit]:
        return await self._service.search_for_attempt(query, k, self._attempt, topic)


class KnowledgeLender:
    """What the executor lends agents as ``services["knowledge"]``."""

    def __init__(self, service: KnowledgeService) -> None:
        self._service = service

    def for_attempt(self, ctx: Any) -> AttemptKnowledge:
        ref = AttemptRef(ctx.task_id, ctx.attempt, ctx.agent_id, ctx.type)
        return AttemptKnowledge(self._service, ref)


def impact_of(rows: Sequence[UsageOutcome]) -> list[Impact]:
    """Per task type that has used knowledge at least once, the two success rates and an
    insight, or "insufficient data" below ``MIN_SAMPLE`` attempts on either side."""
    by_type: dict[str, dict[bool, tuple[int, int]]] = {}
    for row in rows:
        by_type.setdefault(row.task_type, {})[row.used_knowledge] = (row.succeeded, row.attempts)
    impacts = []
    for task_type, sides in sorted(by_type.items()):
        used, unused = sides.get(True, (0, 0)), sides.get(False, (0, 0))
        if used[1] == 0:
            continue
        impacts.append(Impact(task_type, used, unused, _insight(task_type, used, unused)))
    return impacts


def insight_of(impact: Impact, now: float) -> Insight:
    """A learning insight; its confidence is 1 - the two-sided p-value of the difference
    between the two success rates (two-proportion z-test), in [0, 1]."""
    (ok_with, n_with), (ok_without, n_without) = impact.with_knowledge, impact.without_knowledge
    z = two_proportion_z(ok_with, n_with, ok_without, n_without)
    return Insight(
        insight_type=InsightType.KNOWLEDGE, task_type=impact.task_type, agents=(),
        description=impact.insight, confidence=max(0.0, min(1.0, 1.0 - two_sided_p(z))),
        sample_size=n_with + n_without, data=impact.as_dict(), created_at=now,
    )  # fmt: skip


def _insight(task_type: str, used: tuple[int, int], unused: tuple[int, int]) -> str:
    if min(used[1], unused[1]) < MIN_SAMPLE:
        return (
            f"{task_type}: insufficient data (n={used[1]} with knowledge, {unused[1]} "
            f"without; need {MIN_SAMPLE} each)"
        )
    return (
        f"{task_type}: attempts that used knowledge succeed {used[0] / used[1]:.0%} vs "
        f"{unused[0] / unused[1]:.0%} without (n={used[1]} vs {unused[1]})"
    )


def _hit(doc: Document, score: float, query: str) -> KnowledgeHit:
    assert doc.id is not None
    return KnowledgeHit(doc.id, doc.url, doc.title, doc.source_id, doc.topic,
                        snippet(doc.text, query, 600), score)  # fmt: skip
